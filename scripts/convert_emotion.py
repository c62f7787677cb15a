#!/usr/bin/env python
"""Convert the emotion dataset into Alpaca instruction JSON and register it for LLaMA-Factory.

python scripts/convert_emotion.py --source ../shared/data/emotion --output-dir data --dataset-info dataset_info.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emotion_sft.cli import UserError, describe, non_negative_int, positive_int, run
from emotion_sft.converter import DATASET_NAMES, TEXT_ONLY_NAMES, DataError, class_counts, prepare, write_files
from emotion_sft.paths import DATA_DIR, DATASET_INFO, HUB_DATASET


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--source",
        default=HUB_DATASET,
        help="hub dataset id, or a local folder with train/val/test as .txt (text;label), "
        ".csv, .jsonl or .parquet (default: %(default)s)",
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
    sizes = {"train": args.train_size, "validation": args.validation_size, "test": args.test_size}
    print(f"source: {args.source}\noutput: {args.output_dir}/\nregistry: {args.dataset_info}")
    start = time.perf_counter()
    try:  # every target is checked and every row read before the first file is written
        splits, files = prepare(args.source, args.output_dir, args.dataset_info, sizes, args.seed)
    except (DataError, OSError) as exc:
        raise UserError(f"{describe(exc)}; nothing was written.") from None
    write_files(files)
    print(f"\nrows per split and class ({time.perf_counter() - start:.1f} s):")
    print(class_counts(splits).to_string())
    names = ", ".join(f"{DATASET_NAMES[split]} and {TEXT_ONLY_NAMES[split]}" for split in splits)
    print(f"\nwrote {len(splits)} files to {args.output_dir}/ and registered {names} in {args.dataset_info}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
