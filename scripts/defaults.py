#!/usr/bin/env python
"""Default locations of the scripts, relative to this checkout (the package itself takes every path as an
argument). `python scripts/defaults.py` prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TASK_FILE = REPO_ROOT / "tasks" / "emotion.yaml"  # the default task: labels, instruction, columns
DATA_DIR = REPO_ROOT / "data"  # generated Alpaca JSON (git-ignored)
DATASET_INFO = REPO_ROOT / "dataset_info.json"  # LLaMA-Factory's registry, `dataset_dir: .` in recipes
EXAMPLES_DIR = REPO_ROOT / "examples"  # the recipes
MODELS_DIR = REPO_ROOT / "models"  # converted base models (git-ignored)
SAVES_DIR = REPO_ROOT / "saves"  # adapters, predictions, reports (git-ignored)
API_KEY_FILE = SAVES_DIR / "api_key"  # made by `make serve`, read by classify_api.py
PREDICT_RECIPE = EXAMPLES_DIR / "smollm2_lora_predict.yaml"  # an LLM adapter's prompt when it saved none


def model_spec(model: Path, task: Path | None = None, recipe: Path | None = None):
    """A saved model (LLM adapter, encoder or ensemble) recognised and checked with this checkout's defaults:
    `emotion_sft.classifiers.read_model`. `task`: the user's --task; `recipe`: the user's --recipe."""
    from emotion_sft.classifiers import read_model
    from emotion_sft.task import Task

    return read_model(
        model,
        root=REPO_ROOT,
        default_recipe=PREDICT_RECIPE,
        task=Task.load(task) if task else None,
        default_task=Task.load(TASK_FILE),
        recipe=recipe,
    )


def main(argv: list[str] | None = None) -> int:
    for name, value in globals().items():
        if name.isupper():
            print(f"{name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
