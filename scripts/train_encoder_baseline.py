#!/usr/bin/env python
"""Train the encoder + LoRA sequence classifier (the seed's DistilBERT system) and predict the test split.

    python scripts/train_encoder_baseline.py --output-dir saves/minilm/lora
    python scripts/train_encoder_baseline.py --model distilbert-base-uncased --output-dir saves/distilbert/lora
    python scripts/train_encoder_baseline.py --model models/SmolLM2-135M-Instruct --bf16 --epochs 1 \
        --batch-size 16 --learning-rate 5e-4 --lora-alpha 16 --output-dir saves/smollm2-135m/head   # make head

Any model transformers can load as AutoModelForSequenceClassification: an encoder, or a decoder such as SmolLM2
(LlamaForSequenceClassification: the head reads the last token; the config must name a pad token).
`--finetuning full` trains every weight instead of a LoRA adapter and saves the whole model (give it a learning
rate for full fine-tuning, such as 1e-4: the default 2e-3 is LoRA's):

    python scripts/train_encoder_baseline.py --finetuning full --learning-rate 1e-4 --output-dir saves/minilm-l6/full

Reads data/<task>_{train,validation,test}.json (make data; the task: --task, default tasks/emotion.yaml),
keeps the epoch with the best validation accuracy, saves the adapter and the task (task.yaml) in OUTPUT_DIR
and writes OUTPUT_DIR/predictions.jsonl for eval_accuracy.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from defaults import DATA_DIR, TASK_FILE
from emotion_sft.cli import UserError, output_dir, positive_int, run
from emotion_sft.encoder import (
    FINETUNING,
    EncoderClassifier,
    EncoderConfig,
    check_output_dir,
    cuda_available,
    read_split,
    train,
)
from emotion_sft.fileio import DataError
from emotion_sft.precision import cpu_bf16
from emotion_sft.predictions import write_predictions
from emotion_sft.task import SPLITS, Task


def number(kind: type, low: float, inclusive: bool = True, high: float | None = None):
    """argparse type: an int or float at least `low` (above it, unless `inclusive`) and below `high`."""

    def parse(value: str):
        try:
            parsed = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not math.isfinite(parsed) or parsed < low or (parsed == low and not inclusive) or (high and parsed >= high):
            bound = f"{'at least' if inclusive else 'above'} {low}" + (f" and below {high}" if high else "")
            raise argparse.ArgumentTypeError(f"{value!r} is out of range (must be {bound})")
        return parsed

    return parse


def max_steps(value: str) -> int:
    """argparse type: -1 (train for --epochs) or a positive number of steps."""
    if value.strip() == "-1":
        return -1
    try:
        return positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{value!r}: give -1 (train for --epochs) or a positive step count") from None


# The type of every EncoderConfig field on the command line: bad values stop argparse, before anything loads.
TYPES = {
    "model": str,
    "finetuning": FINETUNING,  # a choice
    "lora_rank": positive_int,
    "lora_alpha": positive_int,
    "lora_dropout": number(float, 0.0, high=1.0),
    "learning_rate": number(float, 0.0, inclusive=False),
    "epochs": number(float, 0.0, inclusive=False),
    "batch_size": positive_int,
    "max_length": positive_int,
    "warmup_steps": number(float, 0.0),
    "weight_decay": number(float, 0.0),
    "seed": number(int, 0, high=2**32),
    "max_train_samples": positive_int,
    "max_eval_samples": positive_int,
    "max_steps": max_steps,
    "bf16": bool,  # --bf16 / --no-bf16
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="converted splits (default: data/)")
    parser.add_argument("--task", type=Path, default=TASK_FILE, help="task file (default: tasks/emotion.yaml)")
    parser.add_argument("--output-dir", type=output_dir, required=True, help="adapter, predictions, metrics")
    defaults = EncoderConfig()
    for f in fields(EncoderConfig):
        value, flag = getattr(defaults, f.name), f"--{f.name.replace('_', '-')}"
        if TYPES[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value, help=f"(default: {value})")
        elif isinstance(TYPES[f.name], tuple):
            parser.add_argument(flag, choices=TYPES[f.name], default=value, help=f"(default: {value})")
        else:
            parser.add_argument(flag, type=TYPES[f.name], default=value, help=f"(default: {value})")
    args = parser.parse_args(argv)
    config = EncoderConfig(**{f.name: getattr(args, f.name) for f in fields(EncoderConfig)})
    if Path(config.model).is_dir() and not (Path(config.model) / "config.json").is_file():
        raise UserError(f"{config.model}: not a model folder (no config.json)")
    check_output_dir(args.output_dir, config.finetuning)
    # the task and every split are read (and checked) before the encoder loads
    task = Task.load(args.task)
    paths = {split: args.data_dir / task.data_file(split) for split in SPLITS}
    test = read_split(paths["test"])
    for split in ("train", "validation"):
        if not read_split(paths[split]):
            raise DataError(paths[split], "no rows")
    if not test:
        raise DataError(paths["test"], "no rows")
    if config.bf16 and not cpu_bf16() and not cuda_available():
        print(
            "warning: --bf16 on a CPU without fast bf16 matrix products (AVX2 only) runs far slower than fp32 "
            "here; leave it out (make head does)",
            file=sys.stderr,
        )
    print("encoder baseline:", ", ".join(f"{k}={v}" for k, v in asdict(config).items()))
    print(f"task: {task.summary()}\ndata: {args.data_dir}\noutput: {args.output_dir}")

    start = time.perf_counter()
    metrics = train(config, args.data_dir, args.output_dir, task)
    trained = time.perf_counter()
    classifier = EncoderClassifier(args.output_dir, task)
    results = classifier.classify([r["text"] for r in test], progress=True)
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
