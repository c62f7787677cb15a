#!/usr/bin/env python
"""Test accuracy against training samples seen, from the checkpoints of one LoRA run (`make learning-curve`).

    python scripts/learning_curve.py saves/smollm2-135m/lora/curve --output-dir saves/smollm2-135m/lora/curve/eval

Each `checkpoint-N` of the run (and the base model, at 0 samples) classifies the test split by label
scoring; samples seen = N x the run's batch per step. The labels are the task's (--task, default
tasks/emotion.yaml; a checkpoint saved with its task uses its own). Writes curve.csv, curve.json and
learning_curve.png.
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from defaults import DATA_DIR, REPO_ROOT, TASK_FILE
from emotion_sft.cli import UserError, output_dir, positive_int, run
from emotion_sft.converter import read_alpaca
from emotion_sft.fileio import DataError, dumps_json, write_text_atomic
from emotion_sft.label_scoring import ScorerRecipe
from emotion_sft.metrics import score
from emotion_sft.report import plot_learning_curve
from emotion_sft.task import Task


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    found = [(int(m.group(1)), p) for p in run.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return sorted((step, path) for step, path in found if (path / "adapter_config.json").is_file())


def samples_per_step(run: Path) -> int:
    """Rows per optimizer step of the run, from the training arguments the trainer saved."""
    path = run / "training_args.bin"
    try:
        args = torch.load(path, weights_only=False)
        return args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    except (pickle.UnpicklingError, EOFError, RuntimeError, AttributeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(path, f"not the training arguments a Trainer saves ({reason})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="output_dir of a training run saved with save_steps")
    parser.add_argument("--output-dir", type=output_dir, help="default: RUN/eval")
    parser.add_argument("--recipe", type=Path, default=REPO_ROOT / "examples" / "smollm2_lora_predict.yaml")
    parser.add_argument("--model", help="base model (default: the recipe's)")
    parser.add_argument("--task", type=Path, help="task file (default: tasks/emotion.yaml)")
    parser.add_argument("--data", type=Path, help="converted test split (default: data/<task>_test.json)")
    parser.add_argument("--limit", type=positive_int, help="score only the first N test rows")
    parser.add_argument("--first-token", action="store_true", help="score labels by their first token only")
    args = parser.parse_args(argv)
    output = args.output_dir or args.run / "eval"
    if output.exists() and not output.is_dir():
        raise UserError(f"{output} is a file; give --output-dir a folder")

    # Everything is checked before the first model loads: run, recipe, model folder, registry, template, task, data.
    found = checkpoints(args.run)
    if not found or not (args.run / "training_args.bin").is_file():
        raise UserError(f"{args.run}: no checkpoint-N adapters; train with save_steps (make learning-curve)")
    per_step = samples_per_step(args.run)
    task, default = (Task.load(args.task) if args.task else None), Task.load(TASK_FILE)

    def recipe(adapter: Path | None) -> ScorerRecipe:  # the base model alone for None
        return ScorerRecipe.read(
            args.recipe, root=REPO_ROOT, task=task, default_task=default, model=args.model, adapter=adapter or False
        )

    base = recipe(None)
    data = args.data or DATA_DIR / base.task.data_file("test")
    test = read_alpaca(data)[: args.limit]
    if not test:
        raise DataError(data, "no rows to score")
    print(
        f"run: {args.run} ({len(found)} checkpoints, {per_step} samples/step)\n{base.describe()}\n"
        f"test rows: {len(test)} from {data}"
    )

    specs = [(0, base), *((step, recipe(adapter)) for step, adapter in found)]  # each checked before any loads
    texts, gold = [r["input"] for r in test], [r["output"] for r in test]
    rows = []
    for step, spec in specs:
        start = time.perf_counter()
        pred = [r["predict"] for r in spec.load(first_token=args.first_token).classify(texts, progress=False)]
        metrics = score(gold, pred, spec.task.labels)
        rows.append(
            {
                "step": step,
                "samples": step * per_step,
                "accuracy": metrics["accuracy"],
                "ci_low": metrics["accuracy_ci95"][0],
                "ci_high": metrics["accuracy_ci95"][1],
                "macro_f1": metrics["macro_f1"],
                "adapter": str(spec.adapter or "base model"),
            }
        )
        print(
            f"step {step:5d}  samples {step * per_step:6d}  accuracy {metrics['accuracy']:.4f}  "
            f"macro F1 {metrics['macro_f1']:.3f}  ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )

    curve = pd.DataFrame(rows)
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "curve.csv", curve.to_csv(index=False))
    write_text_atomic(output / "curve.json", dumps_json(rows))
    title = f"{base.model.name} + LoRA, {len(test)} test rows"
    plot_learning_curve(curve, output / "learning_curve.png", title, base.task.baselines)
    print(curve.drop(columns="adapter").to_markdown(index=False, floatfmt=(".0f", ".0f", ".4f", ".4f", ".4f", ".3f")))
    print(f"wrote {output / 'curve.csv'}, curve.json and learning_curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
