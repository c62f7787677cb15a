#!/usr/bin/env python
"""Classify sentences with a model served by `llamafactory-cli api` (start it with `make serve`).

    python scripts/classify_api.py "i feel so alone tonight" "what a lovely surprise"
    python scripts/classify_api.py --file sentences.txt       # one sentence per line; '-' reads stdin
    python scripts/classify_api.py --task tasks/tickets.yaml "my invoice is wrong"   # a model of another task

Prints one line per sentence: the label, a tab, the sentence. Answers are read with the labels of --task, the task
the served model was trained on (default tasks/emotion.yaml; an adapter folder reads the task.yaml `make train`
saved in it). The API key is --api-key, else $API_KEY, else the one `make serve` made in saves/api_key
(--api-key-file); `--print-key` makes that file if missing and prints the key (what `make serve` runs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from defaults import API_KEY_FILE, REPO_ROOT, TASK_FILE
from emotion_sft.cli import UserError, run
from emotion_sft.client import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    APIError,
    ClassifierClient,
    ensure_api_key,
    read_api_key,
)
from emotion_sft.fileio import read_text
from emotion_sft.task import Task


def read_sentences(path: str) -> list[str]:
    """The non-blank lines of a UTF-8 file, or of stdin for '-'."""
    try:
        text = sys.stdin.read() if path == "-" else read_text(Path(path))
    except UnicodeDecodeError as error:
        raise UserError(f"stdin is not valid UTF-8: {error}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def seconds(value: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not (number > 0 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to classify")
    parser.add_argument("--file", help="file with one sentence per line ('-' for stdin)")
    parser.add_argument(
        "--task",
        type=Path,
        default=TASK_FILE,
        help="the served model's task: a task file, or the adapter folder with its task.yaml "
        f"(default {TASK_FILE.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--url",
        default=os.getenv("API_URL", DEFAULT_URL),
        help=f"the server, with or without /v1 (default $API_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.getenv("API_KEY"),
        help="the server's API key (default $API_KEY, else the one in --api-key-file if it exists)",
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        default=API_KEY_FILE,
        help=f"where `make serve` keeps its key (default {API_KEY_FILE.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--print-key", action="store_true", help="make --api-key-file if missing (mode 600), print its key, exit"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--instruction",
        action="store_true",
        help="send the task's instruction before each sentence, for adapters trained on <name>_train (the paper's "
        "recipes); the CPU recipe trains on <name>_train_text, the sentence alone",
    )
    args = parser.parse_args(argv)
    if args.print_key:
        print(ensure_api_key(args.api_key_file))
        return 0
    sentences = args.sentences + (read_sentences(args.file) if args.file else [])
    if not sentences:
        parser.error("give sentences as arguments or with --file")
    task = Task.load(args.task)  # a bad task file stops here, before any request
    api_key = args.api_key or read_api_key(args.api_key_file)
    client = ClassifierClient(args.url, task, api_key, timeout=args.timeout, instruction=args.instruction)
    try:
        results = client.classify(sentences, progress=len(sentences) > 1)
    except (APIError, ValueError) as error:
        raise UserError(str(error)) from None
    for result in results:
        print(f"{result.label}\t{result.text}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
