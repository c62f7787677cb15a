#!/usr/bin/env python
"""Classify a converted split with any saved model: a predictions file for eval_accuracy.py.

    python scripts/predict_split.py --model saves/ensemble --output saves/ensemble/predictions.jsonl

MODEL: a LoRA adapter (label scoring), an encoder or an ensemble; its saved temperature (calibrate.py) is
applied, and its label offsets (calibrate.py --balance). Writes one JSON line per row: text, predict (a label),
label (the reference), probs and, when a temperature was applied, probs_uncalibrated (so eval_accuracy.py
reports ECE before and after).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from defaults import DATA_DIR, model_spec
from emotion_sft.classifiers import labelled_split, scale
from emotion_sft.cli import output_file, run
from emotion_sft.predictions import probability_rows, write_predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model folder: LoRA adapter, encoder or ensemble")
    parser.add_argument("--output", type=output_file, required=True, help="predictions file to write (JSON Lines)")
    parser.add_argument("--split", choices=["test", "validation", "train"], default="test")
    parser.add_argument("--data", type=Path, help="converted split (default: data/<task>_<split>.json)")
    parser.add_argument("--task", type=Path, help="task file (default: the one saved beside the model)")
    parser.add_argument("--recipe", type=Path, help="an LLM adapter's prompt settings (default: saved beside it)")
    args = parser.parse_args(argv)

    spec = model_spec(args.model, args.task, args.recipe)
    data = args.data or DATA_DIR / spec.task.data_file(args.split)
    texts, gold = labelled_split(data, spec.task)
    print(f"{spec.describe()}\ndata: {data} ({len(texts)} rows)")
    model = spec.load(calibrated=False)
    start = time.perf_counter()
    raw = model.predict_proba(texts, progress=True)
    seconds = time.perf_counter() - start
    probs = scale(raw, float(spec.calibration["temperature"]), spec.offsets) if spec.calibration else raw
    labels = spec.task.labels
    rows = [
        {"text": text, "predict": labels[int(p.argmax())], "label": labels[g], "probs": row}
        for text, p, g, row in zip(texts, probs, gold, probability_rows(probs, labels), strict=True)
    ]
    if spec.calibration:
        for row, before in zip(rows, probability_rows(raw, labels), strict=True):
            row["probs_uncalibrated"] = before
    write_predictions(args.output, rows)
    accuracy = float((probs.argmax(axis=1) == gold).mean())
    print(f"classified {len(rows)} rows in {seconds:.1f} s ({len(rows) / seconds:.1f} rows/s), accuracy {accuracy:.4f}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
