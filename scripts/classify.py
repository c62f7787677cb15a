#!/usr/bin/env python
"""Label your own text with any trained model: every row kept, plus its label and probabilities.

    python scripts/classify.py --model saves/smollm2-135m/lora/sft --input reviews.csv --output labelled.csv
    echo "i feel so alone tonight" | python scripts/classify.py --model saves/minilm-l6/lora --input - \
        --output out.jsonl

MODEL: a LoRA adapter saved by `llamafactory-cli train` (scored by label likelihood; base model, template,
system prompt and prompt kind from the recipe `make train` saves beside it, else
examples/smollm2_lora_predict.yaml; --recipe overrides), an encoder (train_encoder_baseline.py) or an ensemble
(ensemble.py). Its saved temperature (calibrate.py) is applied, so `confidence` means what it says; label
offsets saved by calibrate.py --balance are applied too, and then the probabilities favour the rare labels.

INPUT: .txt (one text a line), .csv, .jsonl or .parquet with a text column (--text-column, default the task's),
or - for standard input (one text a line; --input-format for another). OUTPUT: .csv or .jsonl: the input's rows
in order with their own columns, plus `label`, `confidence` and `p_<label>` for every label (--prefix renames
them). Every row is checked (no empty text, the column present) before the model loads; the output is written
whole at the end, or not at all.
"""

from __future__ import annotations

import argparse
import csv
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
from emotion_sft.fileio import DataError, decode, numbered_lines, read_jsonl, read_text, write_text_atomic

INPUT_FORMATS = ("txt", "csv", "jsonl", "parquet")
OUTPUT_FORMATS = ("csv", "jsonl")
_MISSING = object()  # a JSON Lines row without the text column


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


def read_rows(path: Path, kind: str, text_column: str) -> tuple[list[str], list[dict], list[str]]:
    """The input's columns, its rows (column -> value, every value as read: CSV cells stay the exact strings,
    JSON values keep their types) and their texts. DataError names the file and row or line of an empty text, a
    missing column, a text that is not a string, a CSV row with another number of fields than its header, or a
    header with an empty or repeated name."""
    stdin = _stdin(path, binary=kind == "parquet") if str(path) == "-" else None
    if kind == "txt":
        lines = list(numbered_lines(path, stdin))
        rows = [{text_column: line.strip()} for _, line in lines]
        places = [f"line {n}" for n, _ in lines]
        return [text_column], rows, _check_texts(path, [r[text_column] for r in rows], places, text_column, None)
    if kind == "jsonl":
        numbered = list(read_jsonl(path, f"a JSON object with {text_column!r}", stdin))
        rows = [row for _, row in numbered]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        places = [f"line {n}" for n, _ in numbered]
        texts = [row.get(text_column, _MISSING) for row in rows]
        return columns, rows, _check_texts(path, texts, places, text_column, None)
    if kind == "csv":
        return _read_csv(path, read_text(path) if stdin is None else stdin, text_column)
    try:
        frame = pd.read_parquet(io.BytesIO(stdin) if stdin is not None else path)  # a pipe is read whole first
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except (ValueError, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(path, f"cannot read it as parquet ({reason})") from None
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()  # an index saved with the data is a column of the user's
    frame = frame.astype(object).where(frame.notna(), None)  # nulls as None (JSON null, an empty CSV cell)
    columns = [str(c) for c in frame.columns]
    rows = [dict(zip(columns, values, strict=True)) for values in frame.itertuples(index=False, name=None)]
    places = [f"row {i}" for i in range(1, len(rows) + 1)]
    texts = [row[text_column] for row in rows] if text_column in columns else None
    return columns, rows, _check_texts(path, texts, places, text_column, columns)


def _stdin(path: Path, binary: bool) -> str | bytes:
    """Standard input read whole: bytes for Parquet (read by seeking), else UTF-8 text checked as a file is."""
    stream = getattr(sys.stdin, "buffer", None)  # None when stdin is already text (a StringIO in tests)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    return data if binary else decode(data, path)


def _read_csv(path: Path, text: str, text_column: str) -> tuple[list[str], list[dict], list[str]]:
    """A CSV file's header and rows with the standard library: every cell kept exactly as written."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(path, "no rows to classify (the file is empty)")
        for i, name in enumerate(header, start=1):
            if not name.strip():
                raise DataError(path, f"column {i} of the header has no name", "line 1")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise DataError(path, f"the header names {', '.join(map(repr, repeated))} more than once", "line 1")
        rows, places = [], []
        for cells in reader:
            if len(cells) != len(header):
                reason = f"{len(cells)} fields where the header has {len(header)}"
                raise DataError(path, reason + (" (a blank line?)" if not cells else ""), f"line {reader.line_num}")
            rows.append(dict(zip(header, cells, strict=True)))
            places.append(f"line {reader.line_num}")
    except csv.Error as exc:
        raise DataError(path, f"not valid CSV ({exc})", f"line {reader.line_num}") from None
    texts = [row[text_column] for row in rows] if text_column in header else None
    return header, rows, _check_texts(path, texts, places, text_column, header)


def _cell(value: object) -> str:
    """A value as a CSV cell: strings as they are, None empty, lists and mappings as JSON, the rest as printed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | np.ndarray):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    return str(_plain(value)) if isinstance(value, np.generic) else str(value)


def _plain(value: object) -> object:
    """json.dumps' fallback for what Parquet holds: numpy values and arrays, timestamps, bytes."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _check_texts(path: Path, texts: list | None, places: list[str], column: str, columns: list | None) -> list[str]:
    if texts is None:
        names = ", ".join(map(str, columns))
        raise DataError(path, f"no column {column!r} (columns: {names}); name it with --text-column")
    if not texts:
        raise DataError(path, "no rows to classify")
    for text, place in zip(texts, places, strict=True):
        if text is _MISSING:
            raise DataError(path, f"no {column!r} in this row (--text-column names the text)", place)
        if text is None or (isinstance(text, float) and math.isnan(text)):  # JSON null or NaN
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
    parser.add_argument(
        "--uncalibrated", action="store_true",
        help="no temperature and no label offsets (an ensemble's own; its members keep their temperatures)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (default: refuse)")
    args = parser.parse_args(argv)
    out_kind = args.output.suffix.lower().lstrip(".")
    if out_kind not in OUTPUT_FORMATS:
        parser.error(f"--output: {args.output} must end in .csv or .jsonl")
    if str(args.input) != "-" and args.input.resolve() == args.output.resolve():
        parser.error("--output: give another file than the input (the input is never overwritten)")
    if args.output.exists() and not args.overwrite:
        parser.error(f"--output: {args.output} exists; give --overwrite to replace it")

    # Everything is checked before the model loads: the model folder, the input, every row, the output columns.
    spec = model_spec(args.model, args.task, args.recipe)
    labels = spec.task.labels
    text_column = args.text_column or spec.task.text_column
    kind = input_format(args.input, args.input_format)
    columns, rows, texts = read_rows(args.input, kind, text_column)
    added = output_columns(labels, args.prefix)
    clash = [column for column in columns if column in added]
    if clash:
        raise UserError(
            f"{args.input}: has column(s) {', '.join(clash)}, which the output adds; "
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
    probs = probs.round(6)  # finer than any decision made from them, and readable
    extra = [
        dict(zip(added, [labels[k], float(p[k]), *map(float, p)], strict=True))
        for k, p in zip(best, probs, strict=True)
    ]
    if out_kind == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns + added)
        for row, new in zip(rows, extra, strict=True):
            writer.writerow([_cell(row.get(column)) for column in columns] + [_cell(v) for v in new.values()])
        text = buffer.getvalue()
    else:
        text = "".join(
            json.dumps(row | new, ensure_ascii=False, default=_plain) + "\n"
            for row, new in zip(rows, extra, strict=True)
        )
    write_text_atomic(args.output, text)
    counts = pd.Series(np.asarray(labels)[best]).value_counts().reindex(labels, fill_value=0)
    print(", ".join(f"{label} {count}" for label, count in counts.items()))
    print(f"classified {len(texts)} rows in {seconds:.1f} s ({len(texts) / seconds:.1f} rows/s)\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
