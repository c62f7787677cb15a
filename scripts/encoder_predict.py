#!/usr/bin/env python
"""Classify sentences with a trained encoder adapter: label and probability per line.

python scripts/encoder_predict.py --adapter saves/minilm/lora "i feel so alone tonight" "what a day"
echo "i am terrified of tomorrow" | python scripts/encoder_predict.py --adapter saves/minilm/lora
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emotion_sft.cli import run
from emotion_sft.encoder import EncoderClassifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, required=True, help="output dir of train_encoder_baseline.py")
    parser.add_argument("sentences", nargs="*", help="sentences (default: one per line on standard input)")
    args = parser.parse_args(argv)
    if not (args.adapter / "encoder_config.json").is_file():
        print(f"error: {args.adapter}: no trained encoder adapter (encoder_config.json missing)", file=sys.stderr)
        return 1
    sentences = args.sentences or [line.strip() for line in sys.stdin if line.strip()]
    if not sentences:
        print("error: no sentences given", file=sys.stderr)
        return 2
    for sentence, result in zip(sentences, EncoderClassifier(args.adapter).predict(sentences), strict=True):
        print(f"{result['predict']}\t{result['probs'][result['predict']]:.3f}\t{sentence}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
