"""Prediction files: LLaMA-Factory's `generated_predictions.jsonl` and our classifiers' files.

One JSON object per line with `predict` (generated text, or a label) and `label` (the reference;
LLaMA-Factory writes it with a trailing newline). `prompt` (LLaMA-Factory) or `text` (our classifiers)
identify the row. Classifiers may add `probs`, a label -> probability mapping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .fileio import DataError, read_jsonl, write_text_atomic
from .parser import gold_label, parse_label
from .task import Task


def read_predictions(path: str | os.PathLike[str], task: Task) -> pd.DataFrame:
    """Rows of a predictions file as columns `gold`, `predict` (raw text) and `pred` (parsed label).

    Raises DataError naming the file and line for a missing or empty file, a malformed JSON line,
    a row without `predict` or `label`, or a reference label outside the task's labels.
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
            }
        )
    if not rows:
        raise DataError(path, "no predictions (empty file)")
    return pd.DataFrame(rows)


def write_predictions(path: str | os.PathLike[str], rows: list[dict]) -> None:
    """Write rows (`text`, `predict`, `label`, optional `probs`) as JSON Lines, atomically."""
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
