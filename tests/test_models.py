"""The embedded CPU default: the real SmolLM2-135M-Instruct GGUF, exported and generating."""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT, run_script
from emotion_sft.fileio import umask
from emotion_sft.models import EXPORT_MARKER


@pytest.mark.slow
def test_gguf_exports_to_a_model_folder_that_generates(tmp_path):
    out = tmp_path / "SmolLM2-135M-Instruct"
    result = run_script("prepare_model.py", "--output-dir", out)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_hidden_layers"] == 30

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.eos_token == "<|im_end|>" == tokenizer.pad_token  # fixed from the GGUF's <|im_start|>
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**inputs, max_new_tokens=16, do_sample=False)[0, inputs["input_ids"].shape[1] :]
    answer = tokenizer.decode(output)
    assert "Paris" in answer
    assert output[-1] == tokenizer.eos_token_id and len(output) < 16  # it ends its turn by itself
    assert not list(tmp_path.glob(".SmolLM2*"))  # no temporary folder left behind


def test_missing_gguf_is_a_clear_error(tmp_path):
    result = run_script("prepare_model.py", "--gguf", tmp_path / "nope.gguf", "--output-dir", tmp_path / "m")
    assert result.returncode != 0 and "nope.gguf: no such GGUF file" in result.stderr
    assert not (tmp_path / "m").exists()


# What the export wrote under transformers 5.6.0, the release the demo's 0.9210 was measured with: SmolLM2's
# chat prompt for "What is the capital of France?" (its default system turn included). 5.5.4's own GGUF
# loader gives a CodeLlamaTokenizer whose saved folder encodes this as 54 ids, with an extra <|im_start|>.
CHAT_PROMPT_IDS = [
    1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2,
    198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198,
]  # fmt: skip


def test_exported_tokenizer_encodes_as_smollm2_in_any_transformers_release(smollm2_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    config = json.loads((smollm2_tokenizer_dir / "tokenizer_config.json").read_text())
    assert "CodeLlama" not in config["tokenizer_class"]
    assert tokenizer(" Paris.")["input_ids"] == [7042, 30]  # no BOS added, byte-level spaces
    assert tokenizer("i didnt  feel\thumiliated")["input_ids"] == [89, 1250, 399, 216, 1407, 197, 16839, 45847]
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert ids["input_ids"] == CHAT_PROMPT_IDS
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == ("<|im_end|>",) * 2 + ("<|im_start|>",)
    text = " émotion 🙂 <|im_end|>"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert len(tokenizer) == 49152


def test_export_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "my-models"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    result = run_script("prepare_model.py", "--tokenizer-only", "--output-dir", mine)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "did not make" in result.stderr and str(mine) in result.stderr
    assert (mine / "thesis.tex").read_text() == "years of work"
    for target in (".", "src"):  # run_script's working directory is the repo root
        result = run_script("prepare_model.py", "--tokenizer-only", "--output-dir", target)
        assert result.returncode == 1 and "did not make" in result.stderr
    assert (REPO_ROOT / "src" / "emotion_sft" / "models.py").is_file()


def test_export_replaces_its_own_export_and_an_empty_folder(tmp_path):
    out = tmp_path / "tok"
    out.mkdir()  # empty: nothing to lose
    for _ in range(2):  # the second run replaces the first export
        result = run_script("prepare_model.py", "--tokenizer-only", "--output-dir", out)
        assert result.returncode == 0, result.stderr
    assert (out / EXPORT_MARKER).is_file() and (out / "tokenizer.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]  # no temporary or old folder left
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask()  # not mkdtemp's 0700


def test_junk_gguf_and_a_file_as_output_are_one_line_errors(tmp_path):
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"this is not a gguf file at all" * 10)
    result = run_script("prepare_model.py", "--gguf", junk, "--output-dir", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {junk}: not a readable GGUF file" in result.stderr
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]
    result = run_script("prepare_model.py", "--tokenizer-only", "--output-dir", junk)
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr
