#!/usr/bin/env python
"""Read a task file for the Makefile: print one of its fields, or save the task beside a trained model.

    python scripts/task_info.py tasks/emotion.yaml name            # emotion (the prefix of its datasets)
    python scripts/task_info.py tasks/emotion.yaml --save saves/smollm2-135m/lora/sft

`--save DIR` writes DIR/task.yaml (what `make train` runs after training), so the label scorer, the client and
the scripts that load that model read the labels it was trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emotion_sft.cli import UserError, run
from emotion_sft.task import Task

FIELDS = ("name", "source", "text_column", "label_column", "instruction")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", type=Path, help="task file (tasks/NAME.yaml)")
    parser.add_argument("field", nargs="?", choices=FIELDS, help="print this field (empty if the task has none)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the task to DIR/task.yaml (a model folder)")
    args = parser.parse_args(argv)
    if (args.field is None) == (args.save is None):
        parser.error("give a field to print or --save DIR")
    task = Task.load(args.task)
    if args.field:
        print(getattr(task, args.field) or "")
        return 0
    if not args.save.is_dir():
        raise UserError(f"{args.save}: no such folder (train the model first)")
    print(f"task {task.summary()} saved beside the model: {task.save(args.save)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
