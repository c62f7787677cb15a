"""Scaling out and recovering, proven on CPU with real `llamafactory-cli train` runs of the CPU recipe.

- Distributed data parallel: FORCE_TORCHRUN=1 starts two processes (gloo); each trains on half the rows.
- Resilience: a run killed after a checkpoint resumes from that step with `resume_from_checkpoint`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import EXAMPLES, REPO_ROOT, convert_sample, free_port
from emotion_sft.bench import CLI, llamafactory, llamafactory_env
from emotion_sft.precision import cpu_overrides
from emotion_sft.recipes import read_recipe

pytestmark = pytest.mark.slow
ROWS, BATCH = 48, 8
RECIPE = EXAMPLES / "smollm2_lora_sft.yaml"


@pytest.fixture(scope="module")
def sample(emotion_dir, tmp_path_factory):
    return convert_sample(emotion_dir, tmp_path_factory.mktemp("scale-out"), ROWS, 12, 12)


def tiny_overrides(tiny_llama, root, output_dir, **extra) -> dict:
    return {
        "model_name_or_path": tiny_llama,
        "dataset_dir": root,
        "output_dir": output_dir,
        "per_device_train_batch_size": BATCH,
        "gradient_accumulation_steps": 1,
        "logging_steps": 1,
        "plot_loss": "false",
        **extra,
    }


def test_ddp_on_two_cpu_processes_splits_the_data_and_saves_one_adapter(tiny_llama, sample):
    env = llamafactory_env(
        FORCE_TORCHRUN="1",
        NNODES="1",
        NODE_RANK="0",
        NPROC_PER_NODE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(free_port()),
        OMP_NUM_THREADS="1",
    )
    output = sample / "ddp"
    overrides = tiny_overrides(tiny_llama, sample, output, num_train_epochs=1, ddp_backend="gloo", save_steps=1000)
    llamafactory(RECIPE, overrides, sample / "logs" / "ddp.log", REPO_ROOT, env=env)  # raises if it fails
    log = (sample / "logs" / "ddp.log").read_text()
    assert "Initializing 2 distributed tasks" in log
    for rank in (0, 1):  # each rank reports itself when it parses the recipe
        assert f"Process rank: {rank}, world size: 2, device: cpu:0, distributed training: True" in log
    assert "Total train batch size (w. parallel, distributed & accumulation) = 16" in log
    state = json.loads((output / "trainer_state.json").read_text())
    # 48 rows, 8 per process and step, 2 processes: 3 steps (one process alone would take 6).
    assert state["global_step"] == ROWS // (BATCH * 2)
    adapters = sorted(str(p.relative_to(output)) for p in output.rglob("adapter_model.safetensors"))
    assert adapters == ["adapter_model.safetensors", "checkpoint-3/adapter_model.safetensors"]


def test_killed_run_resumes_from_its_checkpoint(tiny_llama, sample):
    output, steps, every = sample / "resume", 40, 5
    overrides = tiny_overrides(tiny_llama, sample, output, max_steps=steps, save_steps=every, num_train_epochs=100)
    overrides |= cpu_overrides(read_recipe(RECIPE), overrides)  # the precision the resumed run gets too
    command = [str(CLI), "train", str(RECIPE), *(f"{k}={v}" for k, v in overrides.items())]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=llamafactory_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoint = output / f"checkpoint-{every}"
    deadline = time.monotonic() + 600
    while not (checkpoint / "trainer_state.json").is_file() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # a crash or a pre-empted machine: no chance to clean up
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (output / "adapter_model.safetensors").exists()  # the final adapter was never written

    resume = {**overrides, "resume_from_checkpoint": checkpoint, "overwrite_output_dir": "false"}
    llamafactory(RECIPE, resume, sample / "logs" / "resume.log", REPO_ROOT)  # raises if it fails
    log = (sample / "logs" / "resume.log").read_text()
    assert f"Resuming training from checkpoint with epoch 0 and global step {every}" in log
    before = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    after = json.loads((output / "trainer_state.json").read_text())
    assert after["global_step"] == steps
    assert after["log_history"][: len(before)] == before  # history kept, not restarted
    assert [e["step"] for e in after["log_history"] if "loss" in e] == list(range(1, steps + 1))
    assert (output / "adapter_model.safetensors").is_file()
