"""The embedded CPU default: the real SmolLM2-135M-Instruct GGUF, exported and generating."""

from __future__ import annotations

import json

import pytest

from conftest import run_script

pytestmark = pytest.mark.slow


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
