#!/usr/bin/env python
"""Classify sentences with a model served by `llamafactory-cli api` (start it with `make serve`).

    python scripts/classify_api.py "i feel so alone tonight" "what a lovely surprise"
    python scripts/classify_api.py --file sentences.txt       # one sentence per line; '-' reads stdin

Prints one line per sentence: the label, a tab, the sentence.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emotion_sft.cli import run
from emotion_sft.client import DEFAULT_URL, APIError, EmotionClient


def read_sentences(path: str) -> list[str]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        sys.exit(f"error: cannot read {path}: {error}")
    return [line.strip() for line in text.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to classify")
    parser.add_argument("--file", help="file with one sentence per line ('-' for stdin)")
    parser.add_argument("--url", default=os.getenv("API_URL", DEFAULT_URL), help=f"server (default {DEFAULT_URL})")
    parser.add_argument("--api-key", default=os.getenv("API_KEY"), help="the server's API_KEY, if it set one")
    parser.add_argument(
        "--instruction",
        action="store_true",
        help="send the instruction before each sentence, for adapters trained on emotion_train (the paper's recipes); "
        "the CPU recipe trains on emotion_train_text, the sentence alone",
    )
    args = parser.parse_args(argv)
    sentences = args.sentences + (read_sentences(args.file) if args.file else [])
    if not sentences:
        parser.error("give sentences as arguments or with --file")
    client = EmotionClient(args.url, args.api_key, instruction=args.instruction)
    try:
        results = client.classify(sentences, progress=len(sentences) > 1)
    except (APIError, ValueError) as error:
        sys.exit(f"error: {error}")
    for result in results:
        print(f"{result.label}\t{result.text}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
