"""bf16 where this CPU multiplies bf16 matrices fast, fp32 where it does not, and the overrides that say so."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from emotion_sft import precision
from emotion_sft.precision import cpu_bf16, cpu_dtype, cpu_overrides, cpu_precision, trainer_precision

CPU_RECIPE = {"use_cpu": True, "bf16": True}


def matmul_rate(dtype: torch.dtype, seconds: float = 0.5) -> float:
    """Matrix products per second of the CPU recipe's MLP shape (a batch of 8 rows of ~32 tokens)."""
    a, b = torch.randn(256, 576, dtype=dtype), torch.randn(576, 1536, dtype=dtype)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return count / (time.perf_counter() - start)


def test_the_choice_matches_this_cpus_real_bf16_speed():
    """The premise of the choice, measured here: without fast bf16 a bf16 product is many times slower than an
    fp32 one (100x on an AVX2-only AMD EPYC), with it about as fast or faster."""
    ratio = matmul_rate(torch.bfloat16) / matmul_rate(torch.float32)
    if cpu_bf16():
        assert ratio > 0.25, f"bf16 at {ratio:.2f}x fp32's speed on a CPU said to have fast bf16"
    else:
        assert ratio < 0.1, f"bf16 at {ratio:.2f}x fp32's speed on a CPU said to lack fast bf16"
    assert cpu_precision() == ("bf16" if cpu_bf16() else "fp32")
    assert cpu_dtype() == (torch.bfloat16 if cpu_bf16() else torch.float32)


def test_the_module_prints_the_choice_for_make():
    result = subprocess.run([sys.executable, "-m", "emotion_sft.precision"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == f"{cpu_precision()}\n"
    # --trainer (make head): a CUDA GPU's bf16 when there is one, else the CPU's choice
    command = [sys.executable, "-m", "emotion_sft.precision", "--trainer"]
    result = subprocess.run(command, capture_output=True, text=True)
    gpu = torch.cuda.is_available()
    expected = ("bf16" if torch.cuda.is_bf16_supported() else "fp32") if gpu else cpu_precision()
    assert result.returncode == 0 and result.stdout == f"{expected}\n" == f"{trainer_precision()}\n"


@pytest.mark.parametrize("fast", [True, False], ids=["fast bf16", "no fast bf16"])
def test_a_cpu_recipe_in_bf16_is_turned_to_fp32_only_without_fast_bf16(monkeypatch, fast):
    monkeypatch.setattr(precision, "cpu_bf16", lambda: fast)
    assert cpu_overrides(CPU_RECIPE) == ({} if fast else {"bf16": "false"})
    assert cpu_overrides({"use_cpu": "true", "bf16": "true"}) == ({} if fast else {"bf16": "false"})  # strings too
    assert cpu_overrides(CPU_RECIPE, {"output_dir": "x"}) == ({} if fast else {"bf16": "false"})


@pytest.mark.parametrize(
    ("recipe", "overrides"),
    [
        (CPU_RECIPE, {"bf16": "true"}),  # an explicit bf16 is obeyed
        (CPU_RECIPE, {"bf16": "false"}),  # already fp32
        (CPU_RECIPE, {"use_cpu": "false"}),  # the GPU runs of the same recipe (make gpu-smoke, the bench)
        ({"bf16": True}, {}),  # a GPU recipe (the paper's, in fp16 or bf16)
        ({"use_cpu": True}, {}),  # already fp32
        ({"use_cpu": True, "fp16": True}, {}),
    ],
    ids=["explicit bf16", "explicit fp32", "use_cpu overridden", "GPU recipe", "fp32 recipe", "fp16 recipe"],
)
def test_nothing_else_is_changed(monkeypatch, recipe, overrides):
    monkeypatch.setattr(precision, "cpu_bf16", lambda: False)
    assert cpu_overrides(recipe, overrides) == {}
