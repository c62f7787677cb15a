#!/usr/bin/env python
"""Label your own text with any trained model: every row kept, plus its label and probabilities.

    python scripts/classify.py --model saves/smollm2-135m/lora/sft --input reviews.csv --output labelled.csv
    echo "i feel so alone tonight" | python scripts/classify.py --model saves/minilm-l6/lora --input - \
        --output out.jsonl

MODEL: a LoRA adapter saved by `llamafactory-cli train` (scored by label likelihood; base model, template,
system prompt and prompt kind from the recipe `make train` saves beside it, else
examples/smollm2_lora_predict.yaml; --recipe overrides), an encoder (train_encoder_baseline.py) or an ensemble
(ensemble.py). Its saved temperature (calibrate.py) is applied, so `confidence` means what it says.

INPUT: .txt (one text a line), .csv, .jsonl or .parquet with a text column (--text-column, default the task's),
or - for standard input (one text a line; --input-format for another). OUTPUT: .csv or .jsonl: the input's rows
in order with their own columns, plus `label`, `confidence` and `p_<label>` for every label (--prefix renames
them). Every row is checked (no empty text, the column present) before the model loads; the output is written
whole at the end, or not at all.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from defaults import model_spec
from emotion_sft.cli import UserError, output_file, positive_int, run
from emotion_sft.fileio import DataError, numbered_lines, read_jsonl, write_text_atomic

INPUT_FORMATS = ("txt", "csv", "jsonl", "parquet")
OUTPUT_FORMATS = ("csv", "jsonl")


def input_format(path: Path, given: str | None) -> str:
    """The input's format: --input-format, else its extension (`-` is one text a line)."""
    if given:
        return given
    if str(path) == "-":
        return "txt"
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in INPUT_FORMATS:
        raise UserError(
            f"{path}: unknown input type {path.suffix or '(no extension)'!r}; use .txt, .csv, .jsonl or "
            ".parquet, or --input-format"
        )
    return suffix


def read_rows(path: Path, kind: str, text_column: str) -> tuple[pd.DataFrame | list[dict], list[str], list[str]]:
    """The input rows (a DataFrame, or for JSON Lines the objects themselves, so nested values survive), their
    texts, and each row's place for messages ("line 3", "row 2"). DataError names the file and row of an empty
    text, a missing column or a text that is not a string."""
    stdin = sys.stdin.read() if str(path) == "-" and kind in ("txt", "jsonl") else None
    if kind == "txt":
        lines = list(numbered_lines(path, stdin))
        frame = pd.DataFrame({text_column: [line.strip() for _, line in lines]})
        places = [f"line {n}" for n, _ in lines]
        return frame, _check_texts(path, frame[text_column].tolist(), places, text_column, None), places
    if kind == "jsonl":
        numbered = list(read_jsonl(path, f"a JSON object with {text_column!r}", stdin))
        rows = [row for _, row in numbered]
        places = [f"line {n}" for n, _ in numbered]
        texts = [row.get(text_column, _MISSING) for row in rows]
        return rows, _check_texts(path, texts, places, text_column, columns=None), places
    try:
        if kind == "csv":
            frame = pd.read_csv(sys.stdin if str(path) == "-" else path, dtype=str, keep_default_na=False)
        else:
            # Parquet is read by seeking (its footer comes last): a pipe is read whole first.
            frame = pd.read_parquet(io.BytesIO(sys.stdin.buffer.read()) if str(path) == "-" else path)
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(path, f"cannot read it as {kind} ({reason})") from None
    places = [f"row {i}" for i in range(1, len(frame) + 1)]
    texts = frame[text_column].tolist() if text_column in frame.columns else None
    return frame, _check_texts(path, texts, places, text_column, columns=list(frame.columns)), places


_MISSING = object()


def _check_texts(path: Path, texts: list | None, places: list[str], column: str, columns: list | None) -> list[str]:
    if texts is None:
        names = ", ".join(map(str, columns))
        raise DataError(path, f"no column {column!r} (columns: {names}); name it with --text-column")
    if not texts:
        raise DataError(path, "no rows to classify")
    for text, place in zip(texts, places, strict=True):
        if text is _MISSING:
            raise DataError(path, f"no {column!r} in this row (--text-column names the text)", place)
        if text is None or (isinstance(text, float) and math.isnan(text)):
            raise DataError(path, f"empty {column!r} (every row needs a text)", place)
        if not isinstance(text, str):
            raise DataError(path, f"{column!r} is a {type(text).__name__}, not a text", place)
        if not text.strip():
            raise DataError(path, f"empty {column!r} (every row needs a text)", place)
    return texts


def output_columns(labels: tuple[str, ...], prefix: str) -> list[str]:
    return [f"{prefix}label", f"{prefix}confidence", *(f"{prefix}p_{label}" for label in labels)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model folder: LoRA adapter, encoder or ensemble")
    parser.add_argument("--input", type=Path, required=True, help=".txt, .csv, .jsonl, .parquet, or - (stdin)")
    parser.add_argument("--output", type=output_file, required=True, help=".csv or .jsonl to write")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, help="the input's format (default: its extension)")
    parser.add_argument("--text-column", help="the column with the text (default: the task's, e.g. text)")
    parser.add_argument("--prefix", default="", help="prefix of the added columns (default: none: label, ...)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="rows per step (default: %(default)s)")
    parser.add_argument("--task", type=Path, help="task file (default: the one saved beside the model)")
    parser.add_argument("--recipe", type=Path, help="an LLM adapter's prompt settings (default: saved beside it)")
    parser.add_argument("--uncalibrated", action="store_true", help="the model's own probabilities, no temperature")
    args = parser.parse_args(argv)
    out_kind = args.output.suffix.lower().lstrip(".")
    if out_kind not in OUTPUT_FORMATS:
        parser.error(f"--output: {args.output} must end in .csv or .jsonl")
    if str(args.input) != "-" and args.input.resolve() == args.output.resolve():
        parser.error("--output: give another file than the input (the input is never overwritten)")

    # Everything is checked before the model loads: the model folder, the input, every row, the output columns.
    spec = model_spec(args.model, args.task, args.recipe)
    labels = spec.task.labels
    text_column = args.text_column or spec.task.text_column
    kind = input_format(args.input, args.input_format)
    rows, texts, _ = read_rows(args.input, kind, text_column)
    added = output_columns(labels, args.prefix)
    existing = set(rows.columns) if isinstance(rows, pd.DataFrame) else {key for row in rows for key in row}
    if existing & set(added):
        raise UserError(
            f"{args.input}: has column(s) {', '.join(sorted(existing & set(added)))}, which the output adds; "
            "give --prefix (e.g. --prefix pred_) so that nothing of yours is overwritten"
        )
    print(f"{spec.describe()}\ninput: {args.input} ({len(texts)} rows, text column {text_column!r})")

    model = spec.load(calibrated=not args.uncalibrated)
    start = time.perf_counter()
    probs = np.empty((len(texts), len(labels)))
    with tqdm(total=len(texts), desc="classify", unit="row") as bar:
        for first in range(0, len(texts), args.batch_size):
            batch = texts[first : first + args.batch_size]
            probs[first : first + len(batch)] = model.predict_proba(batch)
            bar.update(len(batch))
    seconds = time.perf_counter() - start

    best = probs.argmax(axis=1)
    new = pd.DataFrame(probs, columns=added[2:])
    new.insert(0, added[1], probs[np.arange(len(probs)), best])
    new.insert(0, added[0], np.asarray(labels)[best])
    if isinstance(rows, pd.DataFrame):
        table = pd.concat([rows.reset_index(drop=True), new], axis=1)
        if out_kind == "csv":
            text = table.to_csv(index=False)
        else:
            text = table.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    else:
        records = [row | extra for row, extra in zip(rows, new.to_dict(orient="records"), strict=True)]
        if out_kind == "csv":
            text = pd.DataFrame.from_records(records).to_csv(index=False)
        else:
            text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    write_text_atomic(args.output, text)
    counts = pd.Series(np.asarray(labels)[best]).value_counts().reindex(labels, fill_value=0)
    print(", ".join(f"{label} {count}" for label, count in counts.items()))
    print(f"classified {len(texts)} rows in {seconds:.1f} s ({len(texts) / seconds:.1f} rows/s)\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
