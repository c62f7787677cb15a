#!/usr/bin/env python
"""Score prediction files beside the task's published baselines.

    python scripts/eval_accuracy.py PREDICTIONS [MORE ...] [--task tasks/emotion.yaml] --output-dir DIR

The parser and the metrics use the task's labels and label words (default: the emotion task).

PREDICTIONS: LLaMA-Factory's generated_predictions.jsonl (prompt, predict, label) or a classifier's file
(text, predict, label). The first file is the run reported in DIR/metrics.json; every file given is
compared with the others on the same rows (McNemar's test). Writes DIR/metrics.json,
DIR/confusion_matrix.png and DIR/report.md, and prints the table. For files with probabilities (`probs`: the
label scorer, the encoder, an ensemble) it adds their calibration (ECE before and after, DIR/calibration.png)
and accuracy against coverage (DIR/coverage.png).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from defaults import TASK_FILE
from emotion_sft.cli import UserError, non_negative_int, output_dir, run
from emotion_sft.fileio import DataError, dumps_json, write_text_atomic
from emotion_sft.metrics import mcnemar, score
from emotion_sft.predictions import read_predictions
from emotion_sft.report import (
    calibration_table,
    comparison_table,
    confidence_runs,
    markdown,
    plot_confusion_matrix,
    plot_coverage,
    plot_reliability,
    render_report,
)
from emotion_sft.task import Task


def _name_parts(path: Path) -> tuple[list[str], int]:
    """The folders and stem a run's name is made of, and how many of the last ones name it by default:
    the file's stem, or for LLaMA-Factory's generated_predictions.jsonl (a name that tells nothing) the
    3 folders above it."""
    path = path.resolve()
    if path.name == "generated_predictions.jsonl":
        return list(path.parent.parts[1:]), 3
    return [*path.parent.parts[1:], path.stem], 1


def run_names(paths: list[Path]) -> list[str]:
    """Distinct default run names: files whose names clash get parent folders until they differ.

    saves/smollm2-135m/lora/predict/generated_predictions.jsonl -> smollm2-135m/lora/predict
    saves/minilm/lora/predictions.jsonl -> predictions; beside a/predictions.jsonl: lora/predictions
    """
    resolved = [p.resolve() for p in paths]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise UserError(f"{paths[i]} is given twice: compare different predictions files")
    parts, depths = zip(*map(_name_parts, paths), strict=True)
    depths = list(depths)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depths, strict=True)]
        longer = [i for i, name in enumerate(names) if names.count(name) > 1 and depths[i] < len(parts[i])]
        if not longer:  # distinct, or as long as the paths go
            return names
        for i in longer:
            depths[i] += 1


def bootstrap_seed(value: str) -> int:
    """argparse type: a seed numpy accepts (0 to 2**32 - 1)."""
    seed = non_negative_int(value)
    if seed >= 2**32:
        raise argparse.ArgumentTypeError(f"{value!r} is too large (a seed is below 2**32)")
    return seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", type=Path, nargs="+", help="prediction files (JSON Lines)")
    parser.add_argument("--output-dir", type=output_dir, required=True, help="where metrics.json, report.md, PNG go")
    parser.add_argument("--names", help="comma-separated run names, one per file (default: from the paths)")
    parser.add_argument("--seed", type=bootstrap_seed, default=0, help="bootstrap seed (default: %(default)s)")
    parser.add_argument("--task", type=Path, default=TASK_FILE, help="task file (default: tasks/emotion.yaml)")
    args = parser.parse_args(argv)
    if args.names is not None:
        names = [name.strip() for name in args.names.split(",")]
        if len(names) != len(args.predictions) or len(set(names)) != len(names) or not all(names):
            parser.error("--names needs one distinct, non-empty name per predictions file")
    else:
        names = run_names(args.predictions)

    task = Task.load(args.task)
    frames = {}
    for name, path in zip(names, args.predictions, strict=True):
        frames[name] = read_predictions(path, task)
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

    runs = {
        name: score(frame["gold"].tolist(), frame["pred"].tolist(), task.labels, seed=args.seed)
        for name, frame in frames.items()
    }
    comparisons = [
        {"a": a, "b": b, **mcnemar(first["gold"], frames[a]["pred"], frames[b]["pred"])}
        for a, b in itertools.combinations(frames, 2)
    ]
    confident = confidence_runs(frames)
    calibration = calibration_table(confident) if confident else None
    metrics = {
        "name": first_name,
        "file": str(args.predictions[0]),
        **runs[first_name],
        "others": {name: runs[name] for name in names[1:]},
        "mcnemar": comparisons,
        "calibration": []
        if calibration is None
        else calibration.astype(object).where(calibration.notna(), None).to_dict(orient="records"),
    }

    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "metrics.json", out / "report.md", out / "confusion_matrix.png"]
    write_text_atomic(out / "metrics.json", dumps_json(metrics))
    write_text_atomic(out / "report.md", render_report(runs, comparisons, task, calibration))
    plot_confusion_matrix(first["gold"], first["pred"], task.labels, out / "confusion_matrix.png", title=first_name)
    if confident:
        plot_reliability(confident, out / "calibration.png")
        plot_coverage(confident, out / "coverage.png")
        written += [out / "calibration.png", out / "coverage.png"]

    print()
    print(markdown(comparison_table(runs, task.baselines).drop(columns="source")))
    for row in comparisons:
        print(
            f"McNemar {row['a']} vs {row['b']}: {row['a_only']} vs {row['b_only']} discordant rows, "
            f"p = {row['p_value']:.4g}"
        )
    if calibration is not None:
        print()
        print(markdown(calibration))
    print(f"\nwrote {', '.join(map(str, written))}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
