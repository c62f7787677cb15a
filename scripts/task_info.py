#!/usr/bin/env python
"""Read a task file for the Makefile: print one of its fields, or save the task beside a trained model.

    python scripts/task_info.py tasks/emotion.yaml name            # emotion (the prefix of its datasets)
    python scripts/task_info.py tasks/emotion.yaml --save saves/smollm2-135m/lora/sft \
        --recipe examples/smollm2_lora_sft.yaml [KEY=VALUE ...]

`--save DIR` writes DIR/task.yaml (what `make train` runs after training), so the label scorer, the client and
the scripts that load that model read the labels it was trained on. `--recipe` (with the KEY=VALUE overrides
given to llamafactory-cli) also writes the prompt settings it was trained with, DIR/training_recipe.yaml (base
model, template, system prompt, dataset), which classify.py and calibrate.py read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from emotion_sft.classifiers import RECIPE_FILE
from emotion_sft.cli import UserError, run
from emotion_sft.fileio import write_text_atomic
from emotion_sft.recipes import read_recipe
from emotion_sft.task import Task

FIELDS = ("name", "source", "text_column", "label_column", "instruction")
PROMPT_KEYS = ("model_name_or_path", "template", "default_system", "dataset", "dataset_dir", "cutoff_len")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", type=Path, help="task file (tasks/NAME.yaml)")
    parser.add_argument("field", nargs="?", choices=FIELDS, help="print this field (empty if the task has none)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the task to DIR/task.yaml (a model folder)")
    parser.add_argument("--recipe", nargs="+", metavar=("RECIPE", "KEY=VALUE"), help="with --save: the training recipe")
    args = parser.parse_args(argv)
    if (args.field is None) == (args.save is None):
        parser.error("give a field to print or --save DIR")
    if args.recipe and not args.save:
        parser.error("--recipe goes with --save")
    settings = None
    if args.recipe:
        recipe, *overrides = args.recipe
        bad = [item for item in overrides if "=" not in item]
        if bad:
            parser.error(f"--recipe: overrides are KEY=VALUE, got {bad[0]!r}")
        merged = {**read_recipe(recipe), **dict(item.split("=", 1) for item in overrides)}
        settings = {key: merged[key] for key in PROMPT_KEYS if key in merged}
    task = Task.load(args.task)
    if args.field:
        print(getattr(task, args.field) or "")
        return 0
    if not args.save.is_dir():
        raise UserError(f"{args.save}: no such folder (train the model first)")
    print(f"task {task.summary()} saved beside the model: {task.save(args.save)}")
    if settings is not None:
        path = args.save / RECIPE_FILE
        header = f"# The prompt settings {args.save} was trained with ({' '.join(args.recipe)}), for classify.py\n"
        write_text_atomic(path, header + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
        print(f"training recipe's prompt settings saved beside the model: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
