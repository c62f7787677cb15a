#!/usr/bin/env python
"""Convert the emotion dataset into Alpaca instruction JSON and register it for LLaMA-Factory.

python scripts/convert_emotion.py --source ../shared/data/emotion --output-dir data --dataset-info dataset_info.json

convert_dataset.py with the task tasks/emotion.yaml (source dair-ai/emotion unless --source); the same options.
"""

from __future__ import annotations

import sys

import convert_dataset
from defaults import TASK_FILE
from emotion_sft.cli import run


def main(argv: list[str] | None = None) -> int:
    return convert_dataset.main(["--task", str(TASK_FILE), *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(run(main))
