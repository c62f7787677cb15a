"""Prediction files: LLaMA-Factory's `generated_predictions.jsonl` and our classifiers' files.

One JSON object per line with `predict` (generated text, or a label) and `label` (the reference;
LLaMA-Factory writes it with a trailing newline). `prompt` (LLaMA-Factory) or `text` (our classifiers)
identify the row. Classifiers may add `probs`, a label -> probability mapping, and when the probabilities
were calibrated (a temperature fitted on the validation split) `probs_uncalibrated`, the model's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .fileio import DataError, read_jsonl, write_text_atomic
from .parser import gold_label, parse_label
from .task import Task


def read_predictions(path: str | os.PathLike[str], task: Task) -> pd.DataFrame:
    """Rows of a predictions file as columns `gold`, `predict` (raw text), `pred` (parsed label), `text`, and
    `probs` / `probs_uncalibrated` (arrays in the task's label order, or None where the file has none).

    Raises DataError naming the file and line for a missing or empty file, a malformed JSON line,
    a row without `predict` or `label`, a reference label outside the task's labels, or probabilities that
    are not one number in [0, 1] per label summing to 1.
    """
    path = Path(path)
    rows = []
    for number, row in read_jsonl(path, "a JSON object with 'predict' and 'label'"):
        where = f"line {number}"
        if not {"predict", "label"} <= row.keys():
            raise DataError(path, "expected a JSON object with 'predict' and 'label'", where)
        try:
            gold = gold_label(str(row["label"]), task)
        except ValueError as exc:
            raise DataError(path, str(exc), where) from None
        rows.append(
            {
                "gold": gold,
                "predict": str(row["predict"]),
                "pred": parse_label(str(row["predict"]), task),
                "text": row.get("text", row.get("prompt")),
                **{key: _probabilities(row.get(key), task, path, where) for key in PROBABILITY_KEYS},
            }
        )
    if not rows:
        raise DataError(path, "no predictions (empty file)")
    return pd.DataFrame(rows)


PROBABILITY_KEYS = ("probs", "probs_uncalibrated")


def _probabilities(value: object, task: Task, path: Path, where: str) -> np.ndarray | None:
    """A row's label -> probability mapping as an array in the task's label order (None if absent)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != set(task.labels):
        reason = f"probabilities must map each of the task's labels ({', '.join(task.labels)}) to a number"
        raise DataError(path, reason, where)
    try:
        probs = np.array([float(value[label]) for label in task.labels])
    except (TypeError, ValueError):
        raise DataError(path, "probabilities must be numbers", where) from None
    if not (np.all((probs >= 0) & (probs <= 1)) and abs(probs.sum() - 1) < 1e-3):
        raise DataError(path, "probabilities must lie in [0, 1] and sum to 1", where)
    return probs


def probability_rows(probs: np.ndarray, labels: tuple[str, ...]) -> list[dict[str, float]]:
    """An (n, k) array as n label -> probability mappings (the `probs` of a predictions file), to 6 decimals:
    finer than any figure computed from them, and a third of the file."""
    return [dict(zip(labels, (round(float(p), 6) for p in row), strict=True)) for row in probs]


def write_predictions(path: str | os.PathLike[str], rows: list[dict]) -> None:
    """Write rows (`text`, `predict`, `label`, optional `probs`) as JSON Lines, atomically."""
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
