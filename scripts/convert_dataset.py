#!/usr/bin/env python
"""Convert a task's labelled text into Alpaca instruction JSON and register it for LLaMA-Factory.

python scripts/convert_dataset.py --task tasks/emotion.yaml --source ../shared/data/emotion \
    --output-dir data --dataset-info dataset_info.json

Writes OUTPUT_DIR/<name>_train.json, _validation.json and _test.json (name: the task's) and registers
<name>_train, <name>_validation, <name>_test and their _text twins (the text alone as the user turn).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from defaults import DATA_DIR, DATASET_INFO, TASK_FILE
from emotion_sft.cli import UserError, describe, non_negative_int, positive_int, run
from emotion_sft.converter import DataError, class_counts, prepare, write_files
from emotion_sft.task import Task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, default=TASK_FILE, help="task file (default: tasks/emotion.yaml)")
    parser.add_argument(
        "--source",
        help="hub dataset id, or a local folder with train/val/test as .txt (text;label), "
        ".csv, .jsonl or .parquet (default: the task's `source`)",
    )
    parser.add_argument("--output-dir", type=Path, default=DATA_DIR, help="where the JSON files go (default: data/)")
    parser.add_argument(
        "--dataset-info",
        type=Path,
        default=DATASET_INFO,
        help="LLaMA-Factory registry to update (default: ./dataset_info.json)",
    )
    for split in ("train", "validation", "test"):
        parser.add_argument(
            f"--{split}-size",
            type=positive_int,
            metavar="N",
            help=f"keep a seeded, stratified sample of N {split} rows (default: all)",
        )
    parser.add_argument("--seed", type=non_negative_int, default=42, help="sampling seed (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    task = Task.load(args.task)
    source = args.source or task.source
    if not source:
        raise UserError(f"{args.task} names no source: give --source (a hub dataset id or a folder)")
    sizes = {"train": args.train_size, "validation": args.validation_size, "test": args.test_size}
    print(
        f"task: {task.summary()} from {args.task}\nsource: {source}\noutput: {args.output_dir}/\n"
        f"registry: {args.dataset_info}"
    )
    start = time.perf_counter()
    try:  # every target is checked and every row read before the first file is written
        splits, files = prepare(task, source, args.output_dir, args.dataset_info, sizes, args.seed)
    except (DataError, OSError) as exc:
        raise UserError(f"{describe(exc)}; nothing was written.") from None
    write_files(files)
    print(f"\nrows per split and class ({time.perf_counter() - start:.1f} s):")
    print(class_counts(splits, task).to_string())
    names = ", ".join(f"{task.dataset_name(split)} and {task.dataset_name(split, text_only=True)}" for split in splits)
    print(f"\nwrote {len(splits)} files to {args.output_dir}/ and registered {names} in {args.dataset_info}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
