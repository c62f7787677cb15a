"""The benchmark's quick mode, end to end on a tiny model and a sample of the real data (as CI runs it)."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import EMOTION, REPO_ROOT, convert_sample
from emotion_sft.bench import LlamaFactoryError, cpu_configs, llamafactory, markdown_table
from emotion_sft.precision import cpu_bf16
from emotion_sft.task import Task

CPU_CONFIGS = cpu_configs(EMOTION)


def test_markdown_table_formats_numbers_and_blanks():
    table = markdown_table([{"a": "x", "b": 1.23456}, {"a": "y", "b": None}], {"a": "A", "b": "B"})
    assert table.splitlines() == ["| A | B |", "|---|---|", "| x | 1.23 |", "| y |  |"]


def test_configs_start_naive_and_end_at_the_recipe():
    assert CPU_CONFIGS[0].name == "naive" and CPU_CONFIGS[0].overrides["bf16"] == "false"
    assert CPU_CONFIGS[-1].name == "CPU recipe" and CPU_CONFIGS[-1].overrides == {}
    # the emotion task's datasets, as the recipes name them; another task's for another task
    assert CPU_CONFIGS[0].overrides["dataset"] == "emotion_train"
    assert CPU_CONFIGS[3].overrides["dataset"] == "emotion_train_text"
    tickets = Task(name="tickets", labels=("billing", "tech_support", "not_spam"), instruction="Route it.")
    assert [c.overrides.get("dataset") for c in cpu_configs(tickets)][:4] == ["tickets_train"] * 3 + [
        "tickets_train_text"
    ]
    # a CPU without fast bf16: the same levers but bf16, which is no lever there (every run is fp32)
    fp32 = cpu_configs(EMOTION, bf16=False)
    assert [c.name for c in fp32] == [c.name for c in CPU_CONFIGS if c.name != "+ bf16"]


def test_a_failed_llamafactory_run_raises_with_its_log(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("stage: sft\ndo_train: true\n")  # no model
    with pytest.raises(LlamaFactoryError, match="Please provide `model_name_or_path`") as failed:
        llamafactory(recipe, {"output_dir": tmp_path / "out"}, tmp_path / "logs" / "bad.log", tmp_path)
    assert failed.value.returncode != 0 and str(tmp_path / "logs" / "bad.log") in str(failed.value)


@pytest.mark.slow
def test_quick_benchmark_runs_every_section(tiny_llama, emotion_dir, tmp_path):
    import subprocess

    root = convert_sample(emotion_dir, tmp_path / "data-root", 40, 16, 16)
    output = tmp_path / "bench"
    command = [sys.executable, REPO_ROOT / "scripts" / "bench.py", "--quick", "--model", tiny_llama]
    command += ["--dataset-dir", root, "--output-dir", output, "--adapter", tmp_path / "none"]
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, cwd=REPO_ROOT, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((output / "bench.json").read_text())
    train = report["train"]
    assert [row["config"] for row in train] == [c.name for c in cpu_configs(EMOTION, bf16=cpu_bf16())]
    assert report["machine"]["cpu_bf16"] == cpu_bf16()
    # the recipe's bf16 where this CPU has fast bf16, else fp32 (LLaMA-Factory logs no compute dtype for fp32)
    recipe_log = (output / "logs" / "train-cpu-recipe.log").read_text()
    assert ("compute dtype: torch.bfloat16" if cpu_bf16() else "compute dtype: None") in recipe_log
    assert all(row["samples"] == 20 and row["samples_per_s"] > 0 and row["peak_rss_gb"] > 0.1 for row in train)
    # The template's default system turn is what the recipe drops: naive samples must be longer.
    assert train[0]["tokens_per_sample"] > train[-1]["tokens_per_sample"] + 10
    scoring = report["scoring"]
    assert report["scoring_adapter"] == train[-1]["adapter"]  # no trained adapter given: the bench's own
    assert [row["rows"] for row in scoring] == [16, 16, 16, 16]
    assert all(0 <= row["accuracy"] <= 1 and row["samples_per_s"] > 0 for row in scoring[:3])
    # The last row is the compute ceiling: no accuracy, and faster than any real method.
    assert scoring[3]["method"].startswith("compute ceiling") and scoring[3]["accuracy"] is None
    assert scoring[3]["samples_per_s"] > max(row["samples_per_s"] for row in scoring[:3])
    assert [row["stage"] for row in report["encoder"]] == ["train", "predict"]
    import torch

    if not torch.cuda.is_available():
        assert report["gpu"] == [] and "GPU**: skipped, no CUDA device" in result.stdout
    markdown = (output / "bench.md").read_text()
    assert markdown in result.stdout and "| naive |" in markdown and "| CPU recipe |" in markdown
