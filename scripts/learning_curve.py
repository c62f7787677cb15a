#!/usr/bin/env python
"""Test accuracy against training samples seen, from the checkpoints of one LoRA run (`make learning-curve`).

    python scripts/learning_curve.py saves/smollm2-135m/lora/curve --output-dir saves/smollm2-135m/lora/curve/eval

Each `checkpoint-N` of the run (and the base model, at 0 samples) classifies the test split by label
scoring; samples seen = N x the run's batch per step. Writes curve.csv, curve.json and learning_curve.png.
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

from defaults import DATA_DIR, REPO_ROOT
from emotion_sft.cli import UserError, output_dir, positive_int, run
from emotion_sft.converter import read_alpaca, uses_instruction
from emotion_sft.fileio import DataError, dumps_json, write_text_atomic
from emotion_sft.label_scoring import LabelScorer, check_model_dirs, check_template, read_recipe
from emotion_sft.metrics import score
from emotion_sft.report import plot_learning_curve


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
    parser.add_argument("--data", type=Path, default=DATA_DIR / "emotion_test.json")
    parser.add_argument("--limit", type=positive_int, help="score only the first N test rows")
    parser.add_argument("--first-token", action="store_true", help="score labels by their first token only")
    args = parser.parse_args(argv)
    output = args.output_dir or args.run / "eval"
    if output.exists() and not output.is_dir():
        raise UserError(f"{output} is a file; give --output-dir a folder")

    # Everything is checked before the first model loads: run, recipe, model folder, data, registry, template.
    found = checkpoints(args.run)
    if not found or not (args.run / "training_args.bin").is_file():
        raise UserError(f"{args.run}: no checkpoint-N adapters; train with save_steps (make learning-curve)")
    per_step = samples_per_step(args.run)
    recipe = read_recipe(args.recipe, ["template"] if args.model else ["model_name_or_path", "template"])
    model = args.model or recipe["model_name_or_path"]
    check_model_dirs(model)
    test = read_alpaca(args.data)[: args.limit]
    if not test:
        raise DataError(args.data, "no rows to score")
    instruction = uses_instruction(recipe)
    check_template(recipe["template"], args.recipe)
    print(
        f"run: {args.run} ({len(found)} checkpoints, {per_step} samples/step)\nmodel: {model}\n"
        f"test rows: {len(test)} from {args.data}"
    )

    texts, gold = [r["input"] for r in test], [r["output"] for r in test]
    rows = []
    for step, adapter in [(0, None), *found]:
        start = time.perf_counter()
        scorer = LabelScorer.load(
            model,
            adapter,
            recipe["template"],
            recipe.get("default_system"),
            torch.bfloat16,
            args.first_token,
            instruction,
        )
        pred = [r["predict"] for r in scorer.classify(texts, progress=False)]
        metrics = score(gold, pred)
        rows.append(
            {
                "step": step,
                "samples": step * per_step,
                "accuracy": metrics["accuracy"],
                "ci_low": metrics["accuracy_ci95"][0],
                "ci_high": metrics["accuracy_ci95"][1],
                "macro_f1": metrics["macro_f1"],
                "adapter": str(adapter or "base model"),
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
    plot_learning_curve(curve, output / "learning_curve.png", f"{Path(model).name} + LoRA, {len(test)} test rows")
    print(curve.drop(columns="adapter").to_markdown(index=False, floatfmt=(".0f", ".0f", ".4f", ".4f", ".4f", ".3f")))
    print(f"wrote {output / 'curve.csv'}, curve.json and learning_curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
