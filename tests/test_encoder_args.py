"""The encoder scripts refuse bad arguments, folders and saved configs with one line, before training or loading."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, run_script
from emotion_sft.encoder import EncoderClassifier, minilm_path
from emotion_sft.fileio import DataError


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-size", "0"], "argument --batch-size: '0' is not a positive integer"),
        (["--lora-rank", "-8"], "argument --lora-rank: '-8' is not a positive integer"),
        (["--epochs", "0"], "argument --epochs: '0' is out of range (must be above 0.0)"),
        (["--learning-rate", "nan"], "argument --learning-rate: 'nan' is out of range"),
        (
            ["--lora-dropout", "1.5"],
            "argument --lora-dropout: '1.5' is out of range (must be at least 0.0 and below 1.0)",
        ),
        (["--warmup-steps", "-0.1"], "argument --warmup-steps: '-0.1' is out of range"),
        (["--seed", "-1"], "argument --seed: '-1' is out of range"),
        (["--max-train-samples", "0"], "argument --max-train-samples: '0' is not a positive integer"),
        (["--max-steps", "0"], "argument --max-steps: '0': give -1 (train for --epochs) or a positive step count"),
        (["--finetuning", "freeze"], "argument --finetuning: invalid choice: 'freeze'"),
        (["--output-dir", "{file}"], "argument --output-dir: {file}: is a file; give a folder path"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_training_refuses_bad_arguments(tmp_path, args, expected):
    file = tmp_path / "file"
    file.write_text("x")
    args = [arg.format(file=file) for arg in args]
    result = run_script(
        "train_encoder_baseline.py", "--model", tmp_path / "no-model", "--output-dir", tmp_path / "out", *args
    )
    assert result.returncode == 2 and expected.format(file=file) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_training_checks_model_and_data_before_loading(tmp_path):
    # --max-eval-samples was parsed as NoneType (its default) and refused every value
    result = run_script(
        "train_encoder_baseline.py", "--data-dir", tmp_path, "--output-dir", tmp_path / "out", "--max-eval-samples", "5"
    )
    assert (
        result.returncode == 1
        and result.stderr == f"error: {tmp_path / 'emotion_test.json'}: No such file or directory\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_script("train_encoder_baseline.py", "--model", empty, "--output-dir", tmp_path / "out")
    assert result.returncode == 1 and result.stderr == f"error: {empty}: not a model folder (no config.json)\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('{"model": "x",', "line 1: not valid JSON"),
        ("[1, 2]", "expected a JSON object of encoder settings"),
        ("{}", "no model or max_length"),
        ('{"model": "x"}', "no max_length"),
        ('{"model": "x", "max_length": 128, "colour": "red"}', "unknown keys 'colour'"),
        ('{"model": "x", "max_length": "128"}', "max_length must be a positive integer"),
        ('{"model": "", "max_length": 128}', "model must be a non-empty string"),
        ('{"model": "x", "max_length": 128, "finetuning": "qlora"}', "finetuning must be one of 'lora', 'full'"),
    ],
    ids=["bad JSON", "not an object", "empty", "no max_length", "unknown key", "max_length a string", "empty model",
         "unknown finetuning"],
)
def test_a_broken_encoder_config_is_one_line(tmp_path, config, expected):
    (tmp_path / "encoder_config.json").write_text(config)
    with pytest.raises(DataError, match=expected):
        EncoderClassifier(tmp_path)
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1 and result.stderr.startswith(f"error: {tmp_path / 'encoder_config.json'}: {expected}")
    assert len(result.stderr.splitlines()) == 1


def test_a_folder_without_an_adapter_is_one_line(tmp_path):
    (tmp_path / "encoder_config.json").write_text(json.dumps({"model": str(minilm_path()), "max_length": 64}))
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path}: not a LoRA adapter folder (no adapter_config.json)\n"
    (tmp_path / "adapter_config.json").write_text("{")
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: {tmp_path}: cannot load it (")


@pytest.mark.parametrize(
    ("earlier", "finetuning", "what"),
    [
        (["adapter_config.json"], "full", "a LoRA adapter (adapter_config.json)"),
        (["config.json", "model.safetensors"], "lora", "a fully fine-tuned model (config.json, model.safetensors)"),
    ],
    ids=["full over lora", "lora over full"],
)
def test_training_refuses_a_folder_of_the_other_kind_before_loading(tmp_path, earlier, finetuning, what):
    """A whole model saved over an adapter would reload with the adapter applied on top (transformers reads
    adapter_config.json); nothing is trained, loaded or written."""
    out = tmp_path / "out"
    out.mkdir()
    for name in earlier:
        (out / name).write_text("{}")
    result = run_script("train_encoder_baseline.py", "--data-dir", tmp_path, "--output-dir", out,
                        "--finetuning", finetuning)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {out}: holds {what} from an earlier run; give a new folder for --finetuning {finetuning}\n"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(earlier)


def test_a_full_fine_tuning_folder_without_its_model_is_one_line(tmp_path):
    config = {"model": str(minilm_path()), "max_length": 64, "finetuning": "full"}
    (tmp_path / "encoder_config.json").write_text(json.dumps(config))
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path}: not a fine-tuned model folder (no config.json)\n"
    for name in ("config.json", "adapter_config.json"):  # a whole model and an adapter: which is it?
        (tmp_path / name).write_text("{}")
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1 and result.stderr == (
        f"error: {tmp_path}: a fully fine-tuned model with a LoRA adapter beside it; which is it?\n"
    )


def test_no_sentences_is_an_error(tmp_path):
    (tmp_path / "encoder_config.json").write_text(json.dumps({"model": "x", "max_length": 64}))
    command = [sys.executable, REPO_ROOT / "scripts" / "encoder_predict.py", "--adapter", tmp_path]
    result = subprocess.run(command, input="\n  \n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stderr.startswith("error: no sentences given")
