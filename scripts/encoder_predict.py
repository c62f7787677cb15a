#!/usr/bin/env python
"""Classify sentences with a trained encoder adapter: label and probability per line.

python scripts/encoder_predict.py --adapter saves/minilm/lora "i feel so alone tonight" "what a day"
echo "i am terrified of tomorrow" | python scripts/encoder_predict.py --adapter saves/minilm/lora
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emotion_sft.cli import UserError, run
from emotion_sft.encoder import CONFIG_FILE, EncoderClassifier, read_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, required=True, help="output dir of train_encoder_baseline.py")
    parser.add_argument("sentences", nargs="*", help="sentences (default: one per line on standard input)")
    args = parser.parse_args(argv)
    if not (args.adapter / CONFIG_FILE).is_file():
        raise UserError(f"{args.adapter}: no trained encoder adapter ({CONFIG_FILE} missing)")
    read_config(args.adapter)  # a broken config fails here, before the model loads
    sentences = args.sentences or [line.strip() for line in sys.stdin if line.strip()]
    if not sentences:
        raise UserError("no sentences given (as arguments or one per line on standard input)")
    results = EncoderClassifier(args.adapter).predict(sentences)
    for sentence, result in zip(sentences, results, strict=True):
        print(f"{result['predict']}\t{result['probs'][result['predict']]:.3f}\t{sentence}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
