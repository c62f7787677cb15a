"""A task of the user's own, end to end, with nothing under src/ touched: made-up labels (no emotion word among
them), other column names, through conversion, `llamafactory-cli train` and predict on the tiny model,
eval_accuracy.py, the label scorer and the encoder's training and prediction."""

from __future__ import annotations

import csv
import json
import random

import pytest
import yaml

from conftest import REPO_ROOT, run_script
from emotion_sft.bench import llamafactory

pytestmark = pytest.mark.slow

LABELS = ["billing", "tech_support", "account"]
PHRASES = {
    "billing": ["my invoice shows a double charge", "please refund the payment", "why was my card charged twice"],
    "tech_support": ["the app crashes on start", "the export button throws an error", "sync stopped working"],
    "account": ["i cannot log in to my profile", "please change my email address", "delete my user profile"],
}


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    """A task file and a source folder of CSV files with `body` and `queue` columns."""
    root = tmp_path_factory.mktemp("tickets")
    task = {
        "name": "tickets",
        "labels": LABELS,
        "instruction": "Route this support ticket to a queue.",
        "text_column": "body",
        "label_column": "queue",
        "label_words": {"billing": ["invoice"], "tech_support": ["bug"]},
        "baselines": [{"model": "keyword rules", "accuracy": 0.5, "source": "made up"}],
    }
    (root / "tickets.yaml").write_text(yaml.safe_dump(task))
    rng, source = random.Random(0), root / "source"
    source.mkdir()
    for split, n in [("train", 48), ("validation", 12), ("test", 12)]:
        with open(source / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["ticket_id", "queue", "body"])  # other columns, in another order
            for i in range(n):
                queue = LABELS[i % 3]
                writer.writerow([i, queue, f"{rng.choice(PHRASES[queue])} (ticket {split}-{i})"])
    return root


@pytest.fixture(scope="module")
def converted(tickets):
    result = run_script(
        "convert_dataset.py", "--task", tickets / "tickets.yaml", "--source", tickets / "source",
        "--output-dir", tickets / "data", "--dataset-info", tickets / "dataset_info.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tickets


def test_conversion_registers_the_tasks_own_datasets(converted):
    registry = json.loads((converted / "dataset_info.json").read_text())
    names = {f"tickets_{split}{suffix}" for split in ("train", "validation", "test") for suffix in ("", "_text")}
    assert set(registry) == names
    records = json.loads((converted / "data" / "tickets_train.json").read_text())
    assert len(records) == 48 and {r["output"] for r in records} == set(LABELS)
    assert records[0]["instruction"] == "Route this support ticket to a queue."


def test_a_label_outside_the_task_names_file_line_and_labels(tickets, tmp_path):
    source = tmp_path / "bad"
    source.mkdir()
    for split in ("train", "validation", "test"):
        (source / f"{split}.csv").write_text("queue,body\nbilling,refund please\njoy,what a day\n")
    result = run_script(
        "convert_dataset.py", "--task", tickets / "tickets.yaml", "--source", source,
        "--output-dir", tmp_path / "data", "--dataset-info", tmp_path / "dataset_info.json",
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "line 3" in result.stderr and "'joy'" in result.stderr and "billing, tech_support, account" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def trained(converted, tiny_llama):
    common = {"model_name_or_path": tiny_llama, "dataset_dir": converted}
    llamafactory(
        REPO_ROOT / "examples" / "smollm2_lora_sft.yaml",
        {**common, "dataset": "tickets_train_text", "output_dir": converted / "sft", "max_steps": 3,
         "save_steps": 100, "plot_loss": "false"},
        converted / "logs" / "train.log",
        REPO_ROOT,
    )  # fmt: skip
    llamafactory(
        REPO_ROOT / "examples" / "smollm2_lora_predict.yaml",
        {**common, "eval_dataset": "tickets_test_text", "adapter_name_or_path": converted / "sft",
         "output_dir": converted / "predict"},
        converted / "logs" / "predict.log",
        REPO_ROOT,
    )  # fmt: skip
    return converted


def test_llm_predictions_score_against_the_tasks_labels(trained):
    result = run_script(
        "eval_accuracy.py", trained / "predict" / "generated_predictions.jsonl",
        "--task", trained / "tickets.yaml", "--output-dir", trained / "eval",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((trained / "eval" / "metrics.json").read_text())
    assert list(metrics["per_class"]) == LABELS and metrics["n"] == 12
    report = (trained / "eval" / "report.md").read_text()
    assert "keyword rules" in report and "RoBERTa" not in report  # the task's baselines, not emotion's


def test_label_scorer_scores_exactly_the_tasks_labels(trained, tiny_llama):
    out = trained / "label_scores.jsonl"
    result = run_script(
        "predict_label_scores.py", "--task", trained / "tickets.yaml", "--model", tiny_llama,
        "--adapter", trained / "sft", "--data", trained / "data" / "tickets_test.json", "--output", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and all(list(r["probs"]) == LABELS and r["predict"] in LABELS for r in rows)
    assert all(sum(r["probs"].values()) == pytest.approx(1.0) for r in rows)


def test_encoder_trains_and_reloads_the_tasks_labels(converted):
    out = converted / "encoder"
    result = run_script(
        "train_encoder_baseline.py", "--task", converted / "tickets.yaml", "--data-dir", converted / "data",
        "--output-dir", out, "--max-steps", "3", "--batch-size", "16",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(list(r["probs"]) == LABELS for r in rows)
    # the adapter carries its labels: no --task needed to use it, and the emotion task is refused
    result = run_script("encoder_predict.py", "--adapter", out, "please refund my invoice")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[0] in LABELS
    result = run_script("encoder_predict.py", "--adapter", out, "--task", REPO_ROOT / "tasks" / "emotion.yaml", "hi")
    assert result.returncode == 1 and "trained on the labels billing, tech_support, account" in result.stderr
