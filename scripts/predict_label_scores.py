#!/usr/bin/env python
"""Classify a converted split by scoring the six labels under the fine-tuned model (no generation).

    python scripts/predict_label_scores.py --recipe examples/smollm2_lora_predict.yaml \
        --output saves/smollm2-135m/lora/label_scores/predictions.jsonl

Model, adapter, template and system prompt come from the predict recipe (override with --model,
--adapter). Writes one JSON line per row: text, predict (a label), label (the reference), probs.
Score it with scripts/eval_accuracy.py next to LLaMA-Factory's generated_predictions.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from defaults import DATA_DIR, REPO_ROOT
from emotion_sft.cli import output_file, positive_int, run
from emotion_sft.converter import read_alpaca, uses_instruction
from emotion_sft.fileio import DataError
from emotion_sft.label_scoring import LabelScorer, check_model_dirs, check_template, read_recipe
from emotion_sft.predictions import write_predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO_ROOT / "examples" / "smollm2_lora_predict.yaml")
    parser.add_argument("--model", help="base model folder (default: the recipe's model_name_or_path)")
    parser.add_argument("--adapter", help="LoRA adapter folder (default: the recipe's adapter_name_or_path)")
    parser.add_argument("--data", type=Path, default=DATA_DIR / "emotion_test.json", help="converted split")
    parser.add_argument("--output", type=output_file, required=True, help="predictions file to write (JSON Lines)")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--limit", type=positive_int, help="score only the first N rows")
    parser.add_argument("--fp32", action="store_true", help="score in float32 (default: bfloat16, as the recipe)")
    parser.add_argument(
        "--first-token", action="store_true", help="score each label by its first token only (one position per row)"
    )
    args = parser.parse_args(argv)

    # Everything is checked before the model loads: recipe, folders, data, dataset registry, template.
    recipe = read_recipe(args.recipe, ["template"] if args.model else ["model_name_or_path", "template"])
    model, adapter = args.model or recipe["model_name_or_path"], args.adapter or recipe.get("adapter_name_or_path")
    check_model_dirs(model, adapter)
    records = read_alpaca(args.data)[: args.limit]
    if not records:
        raise DataError(args.data, "no rows to score")
    instruction = uses_instruction(recipe)
    check_template(recipe["template"], args.recipe)
    dtype = torch.float32 if args.fp32 else torch.bfloat16
    print(
        f"model: {model}\nadapter: {adapter}\ntemplate: {recipe['template']}, "
        f"system: {recipe.get('default_system')!r}, instruction: {'yes' if instruction else 'no (the text alone)'}"
        f"\ndata: {args.data} ({len(records)} rows)\ndtype: {dtype}, batch size: {args.batch_size}, "
        f"threads: {torch.get_num_threads()}, scoring: {'first token' if args.first_token else 'whole label'}"
    )

    start = time.perf_counter()
    scorer = LabelScorer.load(
        model, adapter, recipe["template"], recipe.get("default_system"), dtype, args.first_token, instruction
    )
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
