#!/usr/bin/env python
"""Score prediction files beside the published baselines.

    python scripts/eval_accuracy.py PREDICTIONS [MORE ...] --output-dir DIR

PREDICTIONS: LLaMA-Factory's generated_predictions.jsonl (prompt, predict, label) or a classifier's file
(text, predict, label). The first file is the run reported in DIR/metrics.json; every file given is
compared with the others on the same rows (McNemar's test). Writes DIR/metrics.json,
DIR/confusion_matrix.png and DIR/report.md, and prints the table.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from emotion_sft.cli import run
from emotion_sft.fileio import DataError, dumps_json, write_text_atomic
from emotion_sft.metrics import mcnemar, score
from emotion_sft.predictions import read_predictions
from emotion_sft.report import comparison_table, markdown, plot_confusion_matrix, render_report


def run_name(path: Path) -> str:
    """saves/smollm2-135m/lora/predict/generated_predictions.jsonl -> smollm2-135m/lora/predict"""
    parent = path.resolve().parent
    return "/".join(parent.parts[-3:]) if path.name == "generated_predictions.jsonl" else path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", type=Path, nargs="+", help="prediction files (JSON Lines)")
    parser.add_argument("--output-dir", type=Path, required=True, help="where metrics.json, report.md, PNG go")
    parser.add_argument("--names", help="comma-separated run names, one per file (default: from the paths)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    args = parser.parse_args(argv)
    names = args.names.split(",") if args.names else [run_name(p) for p in args.predictions]
    if len(names) != len(args.predictions) or len(set(names)) != len(names):
        parser.error("--names needs one distinct name per predictions file")

    try:
        frames = {}
        for name, path in zip(names, args.predictions, strict=True):
            frames[name] = read_predictions(path)
            print(f"read {len(frames[name])} rows from {path} as '{name}'")
        first_name, first = next(iter(frames.items()))
        for name, frame in frames.items():
            if len(frame) != len(first) or not frame["gold"].equals(first["gold"]):
                raise DataError(
                    args.predictions[names.index(name)],
                    f"not the same rows as {args.predictions[0]} "
                    f"({len(frame)} vs {len(first)} rows, or other reference labels): compare runs "
                    "on one test set",
                )
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    runs = {
        name: score(frame["gold"].tolist(), frame["pred"].tolist(), seed=args.seed) for name, frame in frames.items()
    }
    comparisons = [
        {"a": a, "b": b, **mcnemar(first["gold"], frames[a]["pred"], frames[b]["pred"])}
        for a, b in itertools.combinations(frames, 2)
    ]
    metrics = {
        "name": first_name,
        "file": str(args.predictions[0]),
        **runs[first_name],
        "others": {name: runs[name] for name in names[1:]},
        "mcnemar": comparisons,
    }

    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "metrics.json", dumps_json(metrics))
    write_text_atomic(out / "report.md", render_report(runs, comparisons))
    plot_confusion_matrix(first["gold"], first["pred"], out / "confusion_matrix.png", title=first_name)

    print()
    print(markdown(comparison_table(runs).drop(columns="source")))
    for row in comparisons:
        print(
            f"McNemar {row['a']} vs {row['b']}: {row['a_only']} vs {row['b_only']} discordant rows, "
            f"p = {row['p_value']:.4g}"
        )
    print(f"\nwrote {out / 'metrics.json'}, {out / 'report.md'}, {out / 'confusion_matrix.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
