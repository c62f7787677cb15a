"""LLaMA-Factory recipes (the YAML files in examples/), read in one place, and what they say about the prompt.

A recipe's relative paths (model, adapter, dataset_dir, output_dir) start in the folder `llamafactory-cli`
runs in, which the callers pass as `root` (the scripts: the checkout). Nothing here loads a model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from .converter import read_registry
from .fileio import DataError, read_text


def read_recipe(path: str | os.PathLike[str], required: Sequence[str] = ()) -> dict:
    """A LLaMA-Factory recipe (YAML) as a dict, with every key in `required` set.

    Raises DataError naming the file for a missing file, bad YAML (with its line), a recipe that is not a
    mapping, or a required key missing.
    """
    path = Path(path)
    try:
        recipe = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(path, f"not valid YAML ({problem})", f"line {mark.line + 1}" if mark else None) from None
    if not isinstance(recipe, dict):
        raise DataError(path, "expected a YAML mapping of LLaMA-Factory arguments (key: value lines)")
    missing = [key for key in required if not recipe.get(key)]
    if missing:
        raise DataError(path, f"no {' or '.join(missing)}: a predict recipe names the base model and its template")
    return recipe


def recipe_path(value: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """A path as the recipe means it: relative to `root`, where `llamafactory-cli` runs (absolute stays)."""
    return Path(root) / value


def uses_instruction(recipe: Mapping, root: str | os.PathLike[str] = ".") -> bool:
    """Whether the user turns of a recipe's dataset (`eval_dataset`, else `dataset`) start with the
    instruction: yes unless its `dataset_info.json` entry maps no column to the prompt. The registry is read
    from the recipe's `dataset_dir`, relative to `root`: the folder `llamafactory-cli` runs in."""
    dataset_dir = recipe_path(recipe.get("dataset_dir", "data"), root)
    name = str(recipe.get("eval_dataset") or recipe.get("dataset") or "").split(",")[0].strip()
    registry = read_registry(dataset_dir / "dataset_info.json")
    if name not in registry:
        raise DataError(dataset_dir / "dataset_info.json", f"no dataset {name!r} registered (run `make data`)")
    return registry[name].get("columns", {}).get("prompt", "instruction") is not None
