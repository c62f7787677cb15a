"""The encoder + LoRA baseline with the real bundled all-MiniLM-L6-v2, trained for a few steps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import EMOTION, TASK_FILE, convert_sample, run_script
from emotion_sft.cli import UserError
from emotion_sft.fileio import DataError
from emotion_sft.task import Task

TICKETS = Task(name="tickets", labels=("billing", "tech_support", "not_spam"), instruction="Route this ticket.")

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
    assert Task.load(root / "minilm") == EMOTION  # the task saved beside the adapter (task.yaml)


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


@pytest.fixture(scope="module")
def tickets_adapter(tmp_path_factory):
    """An encoder trained for 2 steps on a made-up three-label task (its own data files, tickets_*.json)."""
    from emotion_sft.encoder import EncoderConfig, train

    root = tmp_path_factory.mktemp("tickets")
    texts = {
        "billing": ["i was charged twice", "refund my last invoice", "my card was billed wrongly"],
        "tech_support": ["the app crashes on start", "i cannot log in", "wifi keeps dropping"],
        "not_spam": ["thanks for the quick help", "see you at the meeting", "lunch on friday?"],
    }
    rows = [{"instruction": TICKETS.instruction, "input": t, "output": y} for y, ts in texts.items() for t in ts]
    (root / "data").mkdir()
    for split in ("train", "validation", "test"):
        (root / "data" / TICKETS.data_file(split)).write_text(json.dumps(rows))
    config = EncoderConfig(max_steps=2, batch_size=4, max_length=32)
    train(config, root / "data", root / "adapter", TICKETS)
    return root / "adapter"


def test_an_adapter_trained_on_another_task_reloads_its_labels(tickets_adapter):
    from emotion_sft.encoder import EncoderClassifier

    assert Task.load(tickets_adapter).labels == TICKETS.labels
    # the adapter's labels, even with the emotion task as the default; the same with its own task given
    for classifier in [
        EncoderClassifier(tickets_adapter, default_task=EMOTION),
        EncoderClassifier(tickets_adapter, TICKETS),
    ]:
        assert classifier.labels == classifier.classes_ == TICKETS.labels
        texts = ["please refund me", "it will not start", "hello"]
        assert classifier.predict_proba(texts).shape == (3, 3)
        assert list(classifier.predict(texts)) == [
            classifier.labels[i] for i in classifier.predict_proba(texts).argmax(axis=1)
        ]
        for result in classifier.classify(texts):
            assert list(result["probs"]) == list(TICKETS.labels) and result["predict"] in TICKETS.labels
    with pytest.raises(DataError, match="trained on the labels billing, tech_support, not_spam"):
        EncoderClassifier(tickets_adapter, EMOTION)


def test_the_predict_script_uses_the_adapters_labels_and_refuses_others(tickets_adapter):
    result = run_script("encoder_predict.py", "--adapter", tickets_adapter, "my invoice is wrong")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[0] in TICKETS.labels
    result = run_script("encoder_predict.py", "--adapter", tickets_adapter, "--task", TASK_FILE, "my invoice is wrong")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {tickets_adapter / 'task.yaml'}: this model was trained on the labels")


def test_an_adapter_saved_without_its_task_takes_the_given_one(tickets_adapter, tmp_path):
    from emotion_sft.encoder import EncoderClassifier

    old = shutil.copytree(tickets_adapter, tmp_path / "old", ignore=shutil.ignore_patterns("task.yaml", "checkpoints"))
    assert EncoderClassifier(old, TICKETS).labels == TICKETS.labels
    assert EncoderClassifier(old, default_task=TICKETS).labels == TICKETS.labels
    # a task with another number of labels than the saved head: one clear error, not a size-mismatch traceback
    with pytest.raises(UserError, match="does not have 6 outputs, one per label of task emotion"):
        EncoderClassifier(old, default_task=EMOTION)


def test_a_decoder_trains_as_a_sequence_classifier_and_padding_does_not_change_its_answers(
    tiny_llama, tmp_path
):
    """`make head`'s path on a tiny Llama whose config and tokenizer name no pad token (as Llama 3's): the
    end-of-text token pads and reaches the head, so a text classified in a padded batch gets the probabilities
    it gets alone."""
    from transformers import AutoConfig, AutoTokenizer

    from emotion_sft.encoder import EncoderClassifier, EncoderConfig, train

    model = shutil.copytree(tiny_llama, tmp_path / "llama")
    config = AutoConfig.from_pretrained(model)
    config.pad_token_id = None
    config.save_pretrained(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.pad_token = None  # Llama 3's has none either: the end-of-text token pads
    tokenizer.save_pretrained(model)
    texts = ["i was charged twice on my card this month", "crash", "thanks for the quick help with everything"]
    pairs = zip(texts, TICKETS.labels, strict=True)
    rows = [{"instruction": TICKETS.instruction, "input": t, "output": y} for t, y in pairs]
    (tmp_path / "data").mkdir()
    for split in ("train", "validation", "test"):
        (tmp_path / "data" / TICKETS.data_file(split)).write_text(json.dumps(rows * 2))
    train(EncoderConfig(model=str(model), max_steps=2, batch_size=6, max_length=32), tmp_path / "data",
          tmp_path / "head", TICKETS)  # fmt: skip
    adapter = json.loads((tmp_path / "head" / "adapter_config.json").read_text())
    assert adapter["task_type"] == "SEQ_CLS" and "score" in adapter["modules_to_save"]

    classifier = EncoderClassifier(tmp_path / "head")
    assert classifier.model.config.pad_token_id == classifier.tokenizer.pad_token_id is not None
    together = classifier.predict_proba(texts, batch_size=3)
    alone = np.vstack([classifier.predict_proba([t], batch_size=1) for t in texts])
    assert together == pytest.approx(alone, abs=1e-5)


def test_full_fine_tuning_saves_the_whole_model_and_reloads_it_from_that_folder(tickets_adapter, tmp_path):
    """--finetuning full: every weight trains, the folder holds the whole model (no adapter) and reloads on its
    own, with the base model gone; its predictions are those of the trained weights, not of the base."""
    import torch

    from emotion_sft.encoder import EncoderClassifier, EncoderConfig, read_config, train

    data = tickets_adapter.parent / "data"
    base = shutil.copytree(EncoderConfig().model, tmp_path / "base")
    config = EncoderConfig(model=str(base), finetuning="full", learning_rate=1e-3, max_steps=3, batch_size=9,
                           max_length=32)  # fmt: skip
    train(config, data, tmp_path / "full", TICKETS)
    saved = tmp_path / "full"
    assert (saved / "config.json").is_file() and (saved / "model.safetensors").is_file()
    assert not (saved / "adapter_config.json").exists()
    assert read_config(saved).finetuning == "full" and Task.load(saved).labels == TICKETS.labels

    texts = ["please refund me", "it will not start", "hello"]
    trained = EncoderClassifier(saved)
    probs = trained.predict_proba(texts)
    assert probs.shape == (3, 3) and probs.sum(axis=1) == pytest.approx(np.ones(3))
    # every encoder weight moved, not only the head: full fine-tuning, not a frozen encoder
    from transformers import AutoModel

    before = AutoModel.from_pretrained(base).state_dict()
    after = trained.model.base_model.state_dict()
    changed = [name for name, weight in before.items() if name in after and not torch.equal(weight, after[name])]
    assert any("encoder.layer.0." in name for name in changed) and any("encoder.layer.5." in name for name in changed)
    shutil.rmtree(base)  # the saved folder needs nothing from the base model
    assert EncoderClassifier(saved).predict_proba(texts) == pytest.approx(probs, abs=1e-6)
    (saved / "task.yaml").unlink()  # then another task's labels: one clear error, as for an adapter
    with pytest.raises(UserError, match="does not have 6 outputs, one per label of task emotion"):
        EncoderClassifier(saved, default_task=EMOTION)
