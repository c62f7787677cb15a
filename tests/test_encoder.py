"""The encoder + LoRA baseline with the real bundled all-MiniLM-L6-v2, trained for a few steps."""

from __future__ import annotations

import json

import pytest

from conftest import EMOTION, convert_sample, run_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(emotion_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder")
    convert_sample(emotion_dir, root, 64, 24, 30)
    result = run_script(
        "train_encoder_baseline.py",
        "--data-dir",
        root / "data",
        "--output-dir",
        root / "minilm",
        "--max-steps",
        "4",
        "--batch-size",
        "16",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, result


def test_training_prints_its_inputs_and_saves_a_reloadable_adapter(trained):
    root, result = trained
    assert "encoder baseline: model=" in result.stdout and "lora_rank=8" in result.stdout
    assert "test accuracy" in result.stdout
    adapter = json.loads((root / "minilm" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and adapter["task_type"] == "SEQ_CLS"
    assert "classifier" in adapter["modules_to_save"]


def test_predictions_file_is_scored_by_eval_accuracy(trained):
    root, _ = trained
    rows = [json.loads(line) for line in (root / "minilm" / "predictions.jsonl").read_text().splitlines()]
    records = json.loads((root / "data" / "emotion_test.json").read_text())
    assert [r["text"] for r in rows] == [r["input"] for r in records]
    assert all(r["predict"] in EMOTION.labels and sum(r["probs"].values()) == pytest.approx(1.0) for r in rows)
    result = run_script("eval_accuracy.py", root / "minilm" / "predictions.jsonl", "--output-dir", root / "eval")
    assert result.returncode == 0, result.stderr
    assert json.loads((root / "eval" / "metrics.json").read_text())["n"] == 30


def test_predict_entry_point_classifies_sentences(trained):
    root, _ = trained
    result = run_script("encoder_predict.py", "--adapter", root / "minilm", "i feel so alone", "what a lovely day")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, sentence in zip(lines, ["i feel so alone", "what a lovely day"], strict=True):
        label, probability, text = line.split("\t")
        assert label in EMOTION.labels and 0 < float(probability) <= 1 and text == sentence


def test_missing_adapter_is_a_clear_error(tmp_path):
    result = run_script("encoder_predict.py", "--adapter", tmp_path, "hello")
    assert result.returncode == 1 and "no trained encoder adapter" in result.stderr
