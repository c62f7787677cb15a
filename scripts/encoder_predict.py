#!/usr/bin/env python
"""Classify sentences with a trained encoder adapter: label and probability per line.

python scripts/encoder_predict.py --adapter saves/minilm/lora "i feel so alone tonight" "what a day"
echo "i am terrified of tomorrow" | python scripts/encoder_predict.py --adapter saves/minilm/lora

The labels are the adapter's own (the task saved beside it); --task names the task of an adapter saved
without one (default tasks/emotion.yaml) and is refused if the adapter was trained on other labels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from defaults import TASK_FILE
from emotion_sft.cli import UserError, run
from emotion_sft.encoder import CONFIG_FILE, EncoderClassifier, read_config
from emotion_sft.task import Task, task_for_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, required=True, help="output dir of train_encoder_baseline.py")
    parser.add_argument("--task", type=Path, help="task file (default: the adapter's own, else tasks/emotion.yaml)")
    parser.add_argument("sentences", nargs="*", help="sentences (default: one per line on standard input)")
    args = parser.parse_args(argv)
    if not (args.adapter / CONFIG_FILE).is_file():
        raise UserError(f"{args.adapter}: no trained encoder adapter ({CONFIG_FILE} missing)")
    read_config(args.adapter)  # a broken config or a task of other labels fails here, before the model loads
    task = Task.load(args.task) if args.task else None
    task_for_model(args.adapter, task)
    sentences = args.sentences or [line.strip() for line in sys.stdin if line.strip()]
    if not sentences:
        raise UserError("no sentences given (as arguments or one per line on standard input)")
    results = EncoderClassifier(args.adapter, task, default_task=Task.load(TASK_FILE)).classify(sentences)
    for sentence, result in zip(sentences, results, strict=True):
        print(f"{result['predict']}\t{result['probs'][result['predict']]:.3f}\t{sentence}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
