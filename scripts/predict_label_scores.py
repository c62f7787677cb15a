#!/usr/bin/env python
"""Classify a converted split by scoring the task's labels under the fine-tuned model (no generation).

    python scripts/predict_label_scores.py --recipe examples/smollm2_lora_predict.yaml \
        --output saves/smollm2-135m/lora/label_scores/predictions.jsonl

Model, adapter, template and system prompt come from the predict recipe (override with --model,
--adapter); the labels from the task saved beside the adapter, else --task (default tasks/emotion.yaml).
Writes one JSON line per row: text, predict (a label), label (the reference), probs.
Score it with scripts/eval_accuracy.py next to LLaMA-Factory's generated_predictions.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from defaults import DATA_DIR, REPO_ROOT, TASK_FILE
from emotion_sft.cli import output_file, positive_int, run
from emotion_sft.converter import read_alpaca
from emotion_sft.fileio import DataError
from emotion_sft.label_scoring import ScorerRecipe
from emotion_sft.precision import cpu_dtype
from emotion_sft.predictions import write_predictions
from emotion_sft.task import Task

TASK_HELP = "task file (default: the one saved beside the adapter, else tasks/emotion.yaml)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO_ROOT / "examples" / "smollm2_lora_predict.yaml")
    parser.add_argument("--model", help="base model folder (default: the recipe's model_name_or_path)")
    parser.add_argument("--adapter", help="LoRA adapter folder (default: the recipe's adapter_name_or_path)")
    parser.add_argument("--task", type=Path, help=TASK_HELP)
    parser.add_argument("--data", type=Path, help="converted split (default: data/<task>_test.json)")
    parser.add_argument("--output", type=output_file, required=True, help="predictions file to write (JSON Lines)")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--limit", type=positive_int, help="score only the first N rows")
    parser.add_argument(
        "--fp32",
        action="store_true",
        help="score in float32 (default: bfloat16 as the recipe, or float32 on a CPU without fast bf16)",
    )
    parser.add_argument(
        "--first-token", action="store_true", help="score each label by its first token only (one position per row)"
    )
    args = parser.parse_args(argv)

    # Everything is checked before the model loads: the recipe, model and adapter folders, dataset registry,
    # template and task (ScorerRecipe.read), then the data (its default name is the task's).
    spec = ScorerRecipe.read(
        args.recipe,
        root=REPO_ROOT,
        task=Task.load(args.task) if args.task else None,
        default_task=Task.load(TASK_FILE),
        model=args.model,
        adapter=args.adapter,
    )
    data = args.data or DATA_DIR / spec.task.data_file("test")
    records = read_alpaca(data)[: args.limit]
    if not records:
        raise DataError(data, "no rows to score")
    dtype = torch.float32 if args.fp32 else cpu_dtype()
    print(
        f"{spec.describe()}\ndata: {data} ({len(records)} rows)\ndtype: {dtype}, batch size: {args.batch_size}, "
        f"threads: {torch.get_num_threads()}, scoring: {'first token' if args.first_token else 'whole label'}"
    )

    start = time.perf_counter()
    scorer = spec.load(dtype, args.first_token)
    loaded = time.perf_counter()
    results = scorer.classify([r["input"] for r in records], batch_size=args.batch_size)
    done = time.perf_counter()
    rows = [
        {"text": r["input"], "predict": res["predict"], "label": r["output"], "probs": res["probs"]}
        for r, res in zip(records, results, strict=True)
    ]
    write_predictions(args.output, rows)
    accuracy = sum(r["predict"] == r["label"] for r in rows) / len(rows)
    print(
        f"scored {len(rows)} rows in {done - loaded:.1f} s ({len(rows) / (done - loaded):.1f} samples/s; "
        f"loading {loaded - start:.1f} s), accuracy {accuracy:.4f}\nwrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
