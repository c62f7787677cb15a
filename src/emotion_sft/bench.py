"""Benchmark pieces: timed LLaMA-Factory runs with peak memory, the machine's description, the table.

Every figure comes from a real run on the same model and rows in one process tree, so ratios between rows
of a table are meaningful even on a noisy machine; absolute numbers move with the machine's load.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psutil

from .precision import cpu_bf16, cpu_overrides
from .recipes import read_recipe
from .task import Task

CLI = Path(sys.executable).parent / "llamafactory-cli"  # the one installed beside this interpreter
# Dense bf16 tensor-core peaks (FLOP/s) of GPUs we may run on, for model FLOPs utilisation.
GPU_PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12}


@dataclass(frozen=True)
class TrainConfig:
    """One training measurement: a name, what it changes and the overrides that do it."""

    name: str
    change: str
    overrides: dict = field(default_factory=dict)


def cpu_configs(task: Task, bf16: bool = True) -> list[TrainConfig]:
    """The naive LLaMA-Factory run first, then the CPU recipe's levers added one at a time, ending at the
    recipe (no overrides). The bench trains on the task's `_text` dataset unless a config says otherwise.
    bf16=False (a CPU without fast bf16, `precision.cpu_bf16`): no bf16 lever; every run is fp32, as the
    recipe runs there (`llamafactory` passes it bf16=false)."""
    naive = {
        "dataset": task.dataset_name("train"),  # the seed's instruction before every text
        "default_system": "null",  # the template's own system turn
        "per_device_train_batch_size": 5,
        "gradient_accumulation_steps": 4,
        "train_sampling_strategy": "random",
        "disable_gradient_checkpointing": "false",
    }
    configs = [
        TrainConfig("naive", "fp32, template's system prompt, batch 5 x 4", {**naive, "bf16": "false"}),
        TrainConfig("+ bf16", "bf16 weights and autocast", naive),
        TrainConfig("+ no system turn", 'default_system: ""', {**naive, "default_system": "''"}),
        TrainConfig(
            "+ no instruction",
            f"dataset: {task.dataset_name('train', text_only=True)} (the text alone)",
            {**naive, "default_system": "''", "dataset": task.dataset_name("train", text_only=True)},
        ),
        TrainConfig(
            "+ batch 8 x 1",
            "8 rows per step, no accumulation",
            {"train_sampling_strategy": "random", "disable_gradient_checkpointing": "false"},
        ),
        TrainConfig(
            "+ length grouping", "train_sampling_strategy: group_by_length", {"disable_gradient_checkpointing": "false"}
        ),
        TrainConfig("CPU recipe", "+ no gradient checkpointing", {}),
    ]
    return configs if bf16 else [c for c in configs if c.name != "+ bf16"]


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "date": date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_bf16": cpu_bf16(),  # whether runs on the CPU use bf16 (else fp32): precision.cpu_bf16
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def gpu_memory_used() -> int | None:
    """Bytes in use on GPU 0 as the driver counts them (every process; `nvidia-smi`), None without one."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "--id=0"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
        return int(out.split()[0]) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak resident memory of a process and all its children, sampled every `interval` seconds, and on a
    GPU machine the peak GPU memory above what was in use when it started (sampled every second)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.peak = 0
        self.gpu_baseline = gpu_memory_used()
        self.gpu_peak = 0 if self.gpu_baseline is not None else None
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self, interval: float) -> None:
        next_gpu = 0.0
        while not self._stop.is_set():
            try:
                processes = [self._process, *self._process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in processes))
            except psutil.Error:
                pass
            if self.gpu_peak is not None and time.monotonic() >= next_gpu:
                used = gpu_memory_used()
                self.gpu_peak = max(self.gpu_peak, (used or 0) - self.gpu_baseline)
                next_gpu = time.monotonic() + 1.0
            self._stop.wait(interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def llamafactory_env(**extra: str) -> dict[str, str]:
    """Offline, and with this venv's bin first on PATH: LLaMA-Factory starts `torchrun` by name."""
    path = f"{CLI.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PATH=path, **extra)


def llamafactory(
    recipe: str | os.PathLike[str],
    overrides: Mapping[str, object],
    log: Path,
    cwd: str | os.PathLike[str] = ".",
    *,
    env: Mapping[str, str] | None = None,
) -> dict:
    """Run `llamafactory-cli train <recipe> k=v ...` in `cwd` (where the recipe's relative paths start), its
    output in `log`; return its all_results.json, wall time and peak RSS (and peak GPU memory on a GPU machine).

    env: the whole environment (default `llamafactory_env()`; pass `llamafactory_env(FORCE_TORCHRUN="1", ...)`
    to add to it). A run that fails raises LlamaFactoryError with its exit status and the log's last lines.
    A CPU recipe in bf16 runs in fp32 on a CPU without fast bf16 (`precision.cpu_overrides`), as `make` runs it;
    an explicit bf16 in `overrides` is obeyed. The bench and the tests run LLaMA-Factory through this one function."""
    overrides = {**overrides, **cpu_overrides(read_recipe(Path(cwd) / recipe), overrides)}
    output_dir = Path(cwd) / str(overrides["output_dir"])
    command = [str(CLI), "train", str(recipe), *(f"{k}={v}" for k, v in overrides.items())]
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env) if env is not None else llamafactory_env(), stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        memory = PeakMemory(process.pid)
        process.wait()
        peak = memory.stop()
    gpu_peak = memory.gpu_peak
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise LlamaFactoryError(
            f"llamafactory-cli train {recipe} failed ({process.returncode}), log {log}:\n{tail}", process.returncode
        )
    results = json.loads((output_dir / "all_results.json").read_text())
    state_path = output_dir / "trainer_state.json"
    if state_path.is_file():
        results["num_input_tokens_seen"] = json.loads(state_path.read_text()).get("num_input_tokens_seen")
    results.update(wall_s=time.perf_counter() - start, peak_rss_gb=peak / 2**30)
    if gpu_peak is not None:
        results["peak_gpu_gb"] = gpu_peak / 2**30
    return results


class LlamaFactoryError(RuntimeError):
    """A `llamafactory-cli` run that exited non-zero; the message ends with the last lines of its log."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def peak_flops(gpu_name: str) -> float | None:
    """The dense 16-bit tensor-core peak of a GPU we know (fp16 and bf16 peak alike on these), else None."""
    return next((flops for key, flops in GPU_PEAK_FLOPS.items() if key in gpu_name), None)


def lora_mfu(params: int, tokens_per_s: float, gpu_name: str) -> float | None:
    """Model FLOPs utilisation of LoRA training: 4 FLOPs per weight per token (forward 2, backward through
    the activations 2; the frozen weights get no gradient), recomputation not counted, over the GPU's peak."""
    peak = peak_flops(gpu_name)
    return 4 * params * tokens_per_s / peak if peak else None


def gpu_smoke_overrides(recipe: dict, model: str | Path, steps: int, attention: str, output_dir: Path) -> dict:
    """`key=value` overrides that run a paper recipe's method and training settings on another model for
    `steps` optimizer steps (one epoch of steps x batch x accumulation rows: a whole cosine schedule)."""
    per_step = recipe["per_device_train_batch_size"] * recipe.get("gradient_accumulation_steps", 1)
    return {
        "model_name_or_path": model,
        "template": "smollm2",
        "flash_attn": attention,
        "max_samples": steps * per_step,
        "num_train_epochs": 1,
        "output_dir": output_dir,
        "logging_steps": 1,
        "save_steps": 100000,
        "eval_strategy": "'no'",  # quoted: the CLI's OmegaConf reads a bare no as False
        "eval_dataset": "null",
        "plot_loss": "false",
        "overwrite_output_dir": "true",
        "include_num_input_tokens_seen": "non_padding",
    }


def matmul_flops(m: int, k: int, n: int, dtype=None, seconds: float = 2.0) -> float:
    """This machine's best rate (FLOP/s) for an (m x k) @ (k x n) matrix product, timed over `seconds`."""
    import torch

    dtype = dtype or torch.bfloat16
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
    best, end = float("inf"), time.perf_counter() + seconds
    torch.nn.functional.linear(a, b)  # warm-up: the first call picks and packs the kernel
    while time.perf_counter() < end:
        start = time.perf_counter()
        torch.nn.functional.linear(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """A markdown table of `rows`, with `columns` mapping keys to headers; accuracies get 4 decimals, other
    floats 3 significant digits."""

    def cell(value, key: str) -> str:
        if value is None:
            return ""
        if key == "accuracy":
            return f"{value:.4f}"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(key), key) for key in columns) + " |" for row in rows]
    return "\n".join(lines)
