#!/usr/bin/env python
"""Train the encoder + LoRA sequence classifier (the seed's DistilBERT system) and predict the test split.

    python scripts/train_encoder_baseline.py --output-dir saves/minilm/lora
    python scripts/train_encoder_baseline.py --model distilbert-base-uncased --output-dir saves/distilbert/lora

Reads data/emotion_{train,validation,test}.json (make data), keeps the epoch with the best validation
accuracy, saves the adapter in OUTPUT_DIR and writes OUTPUT_DIR/predictions.jsonl for eval_accuracy.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from emotion_sft.cli import run
from emotion_sft.encoder import EncoderClassifier, EncoderConfig, read_split, train
from emotion_sft.fileio import DataError
from emotion_sft.paths import DATA_DIR
from emotion_sft.predictions import write_predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="converted splits (default: data/)")
    parser.add_argument("--output-dir", type=Path, required=True, help="adapter, predictions, metrics")
    defaults = EncoderConfig()
    for f in fields(EncoderConfig):
        value = getattr(defaults, f.name)
        kind = int if f.name in {"max_train_samples", "max_steps"} else type(value)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=value, help=f"(default: {value})")
    args = parser.parse_args(argv)
    config = EncoderConfig(**{f.name: getattr(args, f.name) for f in fields(EncoderConfig)})
    print("encoder baseline:", ", ".join(f"{k}={v}" for k, v in asdict(config).items()))
    print(f"data: {args.data_dir}\noutput: {args.output_dir}")

    try:
        test = read_split(args.data_dir / "emotion_test.json")
        start = time.perf_counter()
        metrics = train(config, args.data_dir, args.output_dir)
        trained = time.perf_counter()
    except (DataError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    classifier = EncoderClassifier(args.output_dir)
    results = classifier.predict([r["text"] for r in test], progress=True)
    done = time.perf_counter()
    write_predictions(
        args.output_dir / "predictions.jsonl",
        [
            {"text": r["text"], "predict": p["predict"], "label": r["label"], "probs": p["probs"]}
            for r, p in zip(test, results, strict=True)
        ],
    )
    accuracy = sum(p["predict"] == r["label"] for r, p in zip(test, results, strict=True)) / len(test)
    print(
        f"validation accuracy {metrics['eval_accuracy']:.4f}; training {trained - start:.0f} s "
        f"({metrics['train_samples_per_second']:.1f} samples/s)"
    )
    print(
        f"test accuracy {accuracy:.4f} on {len(test)} rows; prediction {done - trained:.1f} s "
        f"({len(test) / (done - trained):.0f} samples/s)\nwrote {args.output_dir / 'predictions.jsonl'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
