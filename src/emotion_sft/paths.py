"""Default locations shared by the scripts, the Makefile and the recipes (all relative to the repo root)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"  # generated Alpaca JSON (git-ignored)
DATASET_INFO = REPO_ROOT / "dataset_info.json"  # LLaMA-Factory's registry, `dataset_dir: .` in recipes
MODELS_DIR = REPO_ROOT / "models"  # converted base models (git-ignored)
SAVES_DIR = REPO_ROOT / "saves"  # adapters, predictions, reports (git-ignored)

HUB_DATASET = "dair-ai/emotion"
