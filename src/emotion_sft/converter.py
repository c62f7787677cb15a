"""A task's labelled text -> Alpaca-style instruction JSON, registered in LLaMA-Factory's `dataset_info.json`.

The task (`Task`: name, labels, instruction, columns) is an argument: `emotion` gives `emotion_train` ... from
dair-ai/emotion. Sources: a hub dataset id (loaded with `datasets`), or a local directory holding one file per
split: CARER/Kaggle text files (`train.txt`, `val.txt`, `test.txt`, one `text;label` per line), CSV, JSON Lines
or Parquet (the task's text and label columns, `text` and `label` by default), including the hub's own parquet layout
(`split/train-00000-of-00001.parquet`, ...). Local files are read here rather than through
`datasets` so that every bad row can be reported with its file and line.

Nothing is written until every split has been read and checked and every target found writable, and every
file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .fileio import DataError, dumps_json, numbered_lines, read_jsonl, read_text, writable_target, write_text_atomic
from .task import SPLITS, Task

# File stems accepted for each split (a hub shard `validation-00000-of-00001` counts as `validation`).
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "val", "valid", "dev"), "test": ("test",)}
# Folders searched in a local source, in order: the directory itself, then the hub's layouts.
SUBFOLDERS = ("", "split", "data")
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
# The same files registered a second time without the instruction column, so that the user turn is the
# text alone: a model fine-tuned on one task learns it from the answers, and the instruction is a quarter
# of the tokens the CPU recipe trains on. The paper recipe keeps the seed's instruction.
TEXT_ONLY_COLUMNS = {"prompt": None, "query": "input", "response": "output"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# The hub's shard names: train-00000-of-00002.parquet, train-00001-of-00002.parquet.
_SHARD = re.compile(r"-(\d+)-of-(\d+)$")


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def _decoded(source: Path | str, where: str, value: object) -> object:
    """A Parquet binary column's bytes as the UTF-8 text they hold (str() would give "b'...'")."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(source, f"not valid UTF-8 (bytes {value[exc.start : exc.end]!r})", where) from None


def _example(source: Path | str, where: str, text: object, label: object, task: Task) -> Example:
    text, label = _decoded(source, where, text), _decoded(source, where, label)
    if text is not None and not isinstance(text, str):
        kind = {dict: "an object", list: "a list", bool: "true or false", int: "a number", float: "a number"}.get(
            type(text), f"a {type(text).__name__}"
        )
        raise DataError(source, f"text is {kind}, expected a string", where)
    text = (text or "").strip()
    if not text:
        raise DataError(source, "empty text", where)
    if label is None or (isinstance(label, str) and not label.strip()):
        raise DataError(source, f"missing label; expected one of {', '.join(task.labels)}", where)
    try:
        return Example(text, task.label_name(label))
    except ValueError as exc:
        raise DataError(source, str(exc), where) from None


def read_txt(path: Path, task: Task) -> list[Example]:
    """CARER/Kaggle format: `text;label` per line, split on the last `;`."""
    examples = []
    for number, line in numbered_lines(path):
        if ";" not in line:
            raise DataError(path, "no ';' separator; expected 'text;label'", f"line {number}")
        text, label = line.rsplit(";", 1)
        examples.append(_example(path, f"line {number}", text, label, task))
    return examples


def _require_columns(path: Path | str, found: Iterable[str], where: str, task: Task) -> None:
    found = list(found)
    missing = [name for name in (task.text_column, task.label_column) if name not in found]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(found) or 'none'}", where)


def read_csv(path: Path, task: Task) -> list[Example]:
    """CSV with a header naming the task's text and label columns. A row's fields end at its line's end: a
    quoted text that runs on over the next lines is taken for a stray quote (it would swallow later rows)."""
    # newline="": the csv module sees CR-only, CRLF and LF line ends as they are, and splits on each.
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""), restkey=None, strict=True)
    examples, last = [], 0
    try:
        _require_columns(path, reader.fieldnames or [], "line 1", task)
        for row in reader:
            where = f"line {reader.line_num}"
            breaks = sum(len(re.findall(r"\r\n|\r|\n", v)) for v in row.values() if isinstance(v, str))
            if breaks:
                start = reader.line_num - breaks
                raise DataError(
                    path,
                    f"a quoted field runs on to line {reader.line_num}: a stray '\"'? (for texts with line breaks,"
                    " use JSON Lines)",
                    f"line {start}",
                )
            if None in row:
                found = len(reader.fieldnames or []) + len(row[None])
                raise DataError(
                    path,
                    f"{found} fields, the header has {len(reader.fieldnames or [])}; quote a text that holds a ','",
                    where,
                )
            examples.append(_example(path, where, row[task.text_column], row[task.label_column], task))
            last = reader.line_num
    except csv.Error as exc:
        end = reader.reader.line_num  # DictReader's own line_num is not updated by a failed row
        runs_on = f"; the row runs on to line {end}: a stray '\"'?" if end > last + 1 else ""
        raise DataError(path, f"malformed CSV ({exc}){runs_on}", f"line {last + 1}") from None
    return examples


def read_jsonl_split(path: Path, task: Task) -> list[Example]:
    examples = []
    for number, row in read_jsonl(path, f"a JSON object with {task.text_column} and {task.label_column}"):
        _require_columns(path, row.keys(), f"line {number}", task)
        examples.append(_example(path, f"line {number}", row[task.text_column], row[task.label_column], task))
    return examples


def read_parquet(path: Path, task: Task) -> list[Example]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise DataError(path, f"not a readable Parquet file ({exc})") from None
    _require_columns(path, table.column_names, "schema", task)
    texts, labels = table.column(task.text_column).to_pylist(), table.column(task.label_column).to_pylist()
    return [
        _example(path, f"row {i}", t, y, task) for i, (t, y) in enumerate(zip(texts, labels, strict=True), start=1)
    ]


READERS: dict[str, Callable[[Path, Task], list[Example]]] = {
    ".txt": read_txt,
    ".csv": read_csv,
    ".jsonl": read_jsonl_split,
    ".parquet": read_parquet,
}


def _split_of(path: Path) -> str | None:
    """The split a file is for: its stem is a split's name, a hub shard of it (`train-00000-of-00001`) or a
    copy of either (`train (1)`, `train-00000-of-00001 (1)`, `train-old`), which the caller refuses beside
    another file of the split, rather than read as more rows."""
    if path.suffix not in READERS:
        return None
    for split, stems in SPLIT_STEMS.items():
        if any(re.match(rf"{stem}(?:$|[-\s(.])", path.stem) for stem in stems):
            return split
    return None


def _check_shards(folder: Path, split: str, files: list[Path]) -> None:
    """One file for a split, or the complete set of its hub shards (0 to n-1 of n, one format)."""
    shards = [_SHARD.search(p.stem) for p in files]
    names = ", ".join(p.name for p in files)
    if len(files) > 1 and (
        not all(shards)
        or any(p.stem[: m.start()] != files[0].stem[: shards[0].start()] for p, m in zip(files, shards, strict=True))
        or len({p.suffix for p in files}) > 1
    ):
        raise DataError(folder, f"several files for split '{split}' ({names}); keep one")
    if all(shards):
        totals = {int(m.group(2)) for m in shards}
        indices = sorted(int(m.group(1)) for m in shards)
        if len(totals) > 1 or indices != list(range(next(iter(totals)))):
            raise DataError(folder, f"split '{split}': shards {names} are not one complete set (0 to n-1 of n)")


def find_split_files(directory: Path) -> dict[str, list[Path]]:
    """Map each split to its file(s) in `directory` (or its hub-style `split/` or `data/` folder)."""
    expected = " or ".join(f"{stem}{{{','.join(READERS)}}}" for stem in ("train", "validation|val", "test"))
    for sub in SUBFOLDERS:
        folder = directory / sub
        if not folder.is_dir():
            continue
        found: dict[str, list[Path]] = {}
        for path in sorted(folder.iterdir()):
            split = _split_of(path)
            if split and path.is_file():
                found.setdefault(split, []).append(path)
        if not found:
            continue
        for split in SPLITS:
            files = found.get(split)
            if not files:
                stems = "/".join(SPLIT_STEMS[split])
                raise DataError(folder, f"missing split '{split}': no {stems} file with extension {', '.join(READERS)}")
            _check_shards(folder, split, files)
        return found
    raise DataError(directory, f"no split files found; expected {expected}")


def load_local(directory: Path, task: Task) -> dict[str, list[Example]]:
    found, splits = find_split_files(directory), {}
    for split in SPLITS:
        files = found[split]
        splits[split] = [example for path in files for example in READERS[path.suffix](path, task)]
        if not splits[split]:
            raise DataError(files[0], f"split '{split}' has no rows")
    return splits


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def load_hub(dataset_id: str, task: Task) -> dict[str, list[Example]]:
    """Load `dataset_id` from the Hugging Face hub with `datasets` (integer or string labels).

    One quick request first: an id the hub does not have fails at once, and when the hub cannot be reached
    the dataset is read from the local cache (offline mode) instead of retrying the network for half a minute.
    """
    import datasets
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    not_a_folder = f"no such folder ({Path(dataset_id).absolute()})"
    offline, unreachable = datasets.config.HF_HUB_OFFLINE, "HF_HUB_OFFLINE is set"
    if not offline:
        try:
            HfApi().dataset_info(dataset_id, timeout=10)
        except GatedRepoError:
            pass  # it exists; load_dataset says how to get access
        except RepositoryNotFoundError:
            raise DataError(dataset_id, f"{not_a_folder}, and the Hugging Face hub has no such dataset") from None
        except HfHubHTTPError:
            pass  # the hub answered: let load_dataset try and report
        except Exception as exc:  # no network, DNS, timeout, proxy: the transport's own error types
            offline, unreachable = True, f"the hub is unreachable: {_first_line(exc)}"
    saved = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = offline  # offline: straight to the local cache, no retries
    try:
        dataset = datasets.load_dataset(dataset_id)
    except Exception as exc:  # unknown id, gated, not cached: all end here
        if offline:
            reason = f"{not_a_folder}, and not a hub dataset in the local cache ({unreachable})"
        else:
            reason = f"could not load it from the Hugging Face hub ({_first_line(exc)})"
        raise DataError(dataset_id, f"{reason}; pass a local folder with --source") from None
    finally:
        datasets.config.HF_HUB_OFFLINE = saved
    splits = {}
    for split in SPLITS:
        name = next((s for s in SPLIT_STEMS[split] if s in dataset), None)
        if name is None:
            raise DataError(dataset_id, f"missing split '{split}'; the hub dataset has {', '.join(dataset)}")
        part = dataset[name]
        _require_columns(dataset_id, part.column_names, f"split {name}", task)
        text, label = task.text_column, task.label_column
        names = getattr(part.features[label], "names", None)
        splits[split] = [
            _example(dataset_id, f"split {name} row {i}", row[text], names[row[label]] if names else row[label], task)
            for i, row in enumerate(part, start=1)
        ]
    return splits


def load_splits(source: str | os.PathLike[str], task: Task) -> dict[str, list[Example]]:
    """Read train/validation/test from a local directory, or from the hub when `source` is an id."""
    path = Path(source)
    if path.exists():
        if not path.is_dir():
            raise DataError(path, "not a directory; pass the folder that holds the split files")
        return load_local(path, task)
    if _HUB_ID.match(str(source)):
        return load_hub(str(source), task)
    raise DataError(source, "no such directory (and not a hub dataset id like dair-ai/emotion)")


def stratified_sample(examples: list[Example], size: int | None, seed: int) -> list[Example]:
    """A seeded sample of `size` examples with the class proportions of the whole, in original order.

    Raises ValueError saying what was asked (the size, the rows there are) when no such sample exists."""
    if size is None or size >= len(examples):
        return list(examples)
    from sklearn.model_selection import train_test_split

    classes = len({e.label for e in examples})
    asked = f"a stratified sample of {size} of its {len(examples)} rows"
    if size < classes or len(examples) - size < classes:
        # scikit-learn names the complementary size (test_size = 1 for 1999 of 2000): say it in the user's terms.
        raise ValueError(
            f"{asked} must keep and leave out at least one row of each of its {classes} classes; "
            f"ask for {classes} to {len(examples) - classes} rows, or all {len(examples)}"
        )
    try:
        keep, _ = train_test_split(
            range(len(examples)), train_size=size, stratify=[e.label for e in examples], random_state=seed
        )
    except ValueError as exc:
        raise ValueError(f"{asked} cannot be drawn: {exc}") from None
    return [examples[i] for i in sorted(keep)]


def to_alpaca(examples: Iterable[Example], task: Task) -> list[dict[str, str]]:
    """Alpaca records as LLaMA-Factory reads them, each with the task's instruction."""
    return [{"instruction": task.instruction, "input": e.text, "output": e.label} for e in examples]


def read_alpaca(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Records of a converted split (data/emotion_test.json), as `to_alpaca` wrote them."""
    try:
        records = json.loads(read_text(Path(path)))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", f"line {exc.lineno}") from None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and {"input", "output"} <= r.keys() for r in records
    ):
        raise DataError(path, "expected a JSON list of Alpaca records with 'input' and 'output'")
    return records


def registry_entry(data_file: Path, dataset_info: Path, columns: Mapping[str, str | None] = ALPACA_COLUMNS) -> dict:
    """A `dataset_info.json` record whose `file_name` is relative to the registry's folder (= `dataset_dir`).

    The folder is the one the registry is found in, even when it is a symlink to a file elsewhere."""
    relative = Path(os.path.relpath(data_file.resolve(), dataset_info.absolute().parent.resolve())).as_posix()
    return {"file_name": relative, "formatting": "alpaca", "columns": dict(columns)}


def read_registry(dataset_info: Path) -> dict:
    if not dataset_info.exists():
        return {}
    text = read_text(dataset_info)
    try:
        registry = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise DataError(dataset_info, f"not valid JSON ({exc.msg})", f"line {exc.lineno}") from None
    if not isinstance(registry, dict):
        raise DataError(dataset_info, "expected a JSON object mapping dataset names to records")
    return registry


def class_counts(splits: Mapping[str, list[Example]], task: Task) -> pd.DataFrame:
    """Rows per split (index) and class (columns, in the task's label order), with totals."""
    frame = pd.DataFrame({split: pd.Series([e.label for e in rows]).value_counts() for split, rows in splits.items()}).T
    frame = frame.reindex(columns=list(task.labels), fill_value=0).fillna(0).astype(int)
    frame["total"] = frame.sum(axis=1)
    return frame


def prepare(
    task: Task,
    source: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    dataset_info: str | os.PathLike[str],
    sizes: Mapping[str, int | None] | None = None,
    seed: int = 42,
) -> tuple[dict[str, list[Example]], dict[Path, str]]:
    """Everything `convert` does but write: the examples, and the text of each file to write, by path.

    Every target is checked first (not a folder, not read-only, not under a file), then the source and the
    registry are read and checked. Raises DataError or OSError, having written nothing.
    """
    output_dir, dataset_info = Path(output_dir), Path(dataset_info)
    outputs = {split: output_dir / task.data_file(split) for split in SPLITS}
    for path in [*outputs.values(), dataset_info]:
        writable_target(path)
    splits = load_splits(source, task)
    for split, rows in splits.items():
        try:
            splits[split] = stratified_sample(rows, (sizes or {}).get(split), seed)
        except ValueError as exc:
            raise DataError(source, f"split '{split}': {exc}") from None
    registry = read_registry(dataset_info)
    for split in SPLITS:
        registry[task.dataset_name(split)] = registry_entry(outputs[split], dataset_info)
    for split in SPLITS:
        registry[task.dataset_name(split, text_only=True)] = registry_entry(
            outputs[split], dataset_info, TEXT_ONLY_COLUMNS
        )
    files = {outputs[split]: dumps_json(to_alpaca(splits[split], task)) for split in SPLITS}
    return splits, {**files, dataset_info: dumps_json(registry)}


def write_files(files: Mapping[Path, str]) -> None:
    """Write each file atomically, in order (the registry last, so it never names a file not yet written)."""
    for path, text in files.items():
        write_text_atomic(path, text)


def convert(
    task: Task,
    source: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    dataset_info: str | os.PathLike[str],
    sizes: Mapping[str, int | None] | None = None,
    seed: int = 42,
) -> dict[str, list[Example]]:
    """Convert `source` into `output_dir/<task>_{split}.json` and register them in `dataset_info`.

    `sizes` optionally caps a split at a seeded, stratified sample. Returns the examples written.
    Everything is read and checked, and every target found writable, before the first file is written.
    """
    splits, files = prepare(task, source, output_dir, dataset_info, sizes, seed)
    write_files(files)
    return splits
