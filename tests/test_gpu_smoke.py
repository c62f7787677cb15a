"""`make gpu-smoke`: the paper recipe's settings on SmolLM2, and a clean refusal where there is no GPU."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import REPO_ROOT, run_script
from emotion_sft.bench import gpu_smoke_overrides, lora_mfu
from emotion_sft.recipes import read_recipe

PAPER = REPO_ROOT / "examples" / "llama3_lora_sft.yaml"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_cuda_it_stops_at_once_with_one_line(tmp_path):
    start = time.monotonic()
    result = run_script("gpu_smoke.py", "--output-dir", tmp_path / "smoke")
    assert result.returncode == 1 and time.monotonic() - start < 60
    assert result.stderr.startswith("error: no CUDA GPU") and result.stderr.count("\n") == 1
    assert result.stdout == "" and not (tmp_path / "smoke").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_make_gpu_smoke_refuses_before_converting_or_exporting_anything():
    result = subprocess.run(
        ["make", "--no-print-directory", "gpu-smoke", "MODEL_DIR=/nonexistent/model"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0 and "error: no CUDA GPU" in result.stderr
    assert "convert_emotion" not in result.stdout + result.stderr and not Path("/nonexistent/model").exists()


def test_bad_arguments_are_refused_before_anything_runs(tmp_path):
    result = run_script("gpu_smoke.py", "--steps", "0")
    assert result.returncode == 2 and "not a positive integer" in result.stderr


def test_smoke_run_keeps_the_paper_recipes_method_and_training_settings(tmp_path):
    from llamafactory.hparams.parser import _parse_train_args

    recipe = read_recipe(PAPER)
    overrides = gpu_smoke_overrides(recipe, "models/SmolLM2-135M-Instruct", 50, "fa2", tmp_path / "sft")
    # merged as `llamafactory-cli train RECIPE key=value ...` merges them
    cli = OmegaConf.from_cli([f"{key}={value}" for key, value in overrides.items()])
    merged = OmegaConf.to_container(OmegaConf.merge(OmegaConf.create(recipe), cli))
    model, data, training, finetuning, _ = _parse_train_args(merged)
    assert (finetuning.finetuning_type, finetuning.lora_rank, finetuning.lora_target) == ("lora", 8, ["all"])
    assert training.learning_rate == 5e-5 and training.lr_scheduler_type == "cosine" and training.fp16
    assert (training.per_device_train_batch_size, training.gradient_accumulation_steps) == (5, 4)
    assert model.flash_attn == "fa2" and model.model_name_or_path == "models/SmolLM2-135M-Instruct"
    assert data.max_samples == 1000 and training.num_train_epochs == 1  # 50 steps of 20 rows
    assert data.template == "smollm2" and data.eval_dataset is None and data.cutoff_len == recipe["cutoff_len"]


def test_mfu_counts_four_flops_per_weight_per_token():
    assert lora_mfu(100_000_000, 1_000_000, "NVIDIA H100 80GB HBM3") == pytest.approx(4e14 / 989e12)
    assert lora_mfu(100_000_000, 1_000_000, "Some Unknown GPU") is None
