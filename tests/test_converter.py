"""The converter on the real emotion data, on every accepted format, and on every kind of bad input."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import EMOTION, REPO_ROOT, run_script
from emotion_sft.converter import (
    ALPACA_COLUMNS,
    TEXT_ONLY_COLUMNS,
    class_counts,
    convert,
    load_splits,
    registry_entry,
    stratified_sample,
)
from emotion_sft.fileio import DataError
from emotion_sft.recipes import uses_instruction
from emotion_sft.task import SPLITS

# ../shared/MISSION.md: rows per split and class of the CARER emotion dataset ("split" configuration).
EXPECTED_COUNTS = {
    "train": {"sadness": 4666, "joy": 5362, "love": 1304, "anger": 2159, "fear": 1937, "surprise": 572},
    "validation": {"sadness": 550, "joy": 704, "love": 178, "anger": 275, "fear": 212, "surprise": 81},
    "test": {"sadness": 581, "joy": 695, "love": 159, "anger": 275, "fear": 224, "surprise": 66},
}
ROWS = [
    ("i feel so alone tonight", "sadness"),
    ("what a wonderful day", "joy"),
    ("i adore you", "love"),
    ("this makes me furious", "anger"),
    ("i am terrified", "fear"),
    ("i did not expect that", "surprise"),
]


def write_txt(folder: Path, rows=ROWS, names=("train", "val", "test")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.txt").write_text("".join(f"{t};{y}\n" for t, y in rows), encoding="utf-8")
    return folder


def convert_cli(source: Path, tmp_path: Path, *extra: str):
    out, info = tmp_path / "out", tmp_path / "dataset_info.json"
    return run_script("convert_emotion.py", "--source", source, "--output-dir", out, "--dataset-info", info, *extra)


def read_records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_real_dataset_converts_to_the_published_counts(emotion_dir, tmp_path):
    result = convert_cli(emotion_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    for split, expected in EXPECTED_COUNTS.items():
        records = read_records(tmp_path / "out" / f"emotion_{split}.json")
        counts = {label: sum(r["output"] == label for r in records) for label in EMOTION.labels}
        assert counts == expected
        assert len(records) == sum(expected.values())
        assert all(r.keys() == {"instruction", "input", "output"} for r in records)
        assert all(r["instruction"] == EMOTION.instruction for r in records)
        assert all(r["input"] and not r["input"].endswith(";") for r in records)
    # The printed table carries the same numbers.
    assert "16000" in result.stdout and "4666" in result.stdout and "surprise" in result.stdout
    first = read_records(tmp_path / "out" / "emotion_train.json")[0]
    assert first == {"instruction": EMOTION.instruction, "input": "i didnt feel humiliated", "output": "sadness"}


def test_rerun_is_byte_identical_and_keeps_other_registry_entries(tmp_path):
    source = write_txt(tmp_path / "src")
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"my_data": {"file_name": "mine.json"}, "emotion_train": {"file_name": "old.json"}}))
    assert convert_cli(source, tmp_path).returncode == 0
    first = {p.name: p.read_bytes() for p in [info, *sorted((tmp_path / "out").iterdir())]}
    assert convert_cli(source, tmp_path).returncode == 0
    second = {p.name: p.read_bytes() for p in [info, *sorted((tmp_path / "out").iterdir())]}
    assert first == second
    assert sorted(first) == ["dataset_info.json", "emotion_test.json", "emotion_train.json", "emotion_validation.json"]
    registry = json.loads(info.read_text())
    assert registry["my_data"] == {"file_name": "mine.json"}
    assert registry["emotion_train"]["file_name"] == "out/emotion_train.json"  # relative to the registry's folder
    assert registry["emotion_test"]["columns"] == ALPACA_COLUMNS
    # The same file again, registered without the instruction column (the CPU recipe's user turn).
    assert registry["emotion_test_text"] == {**registry["emotion_test"], "columns": TEXT_ONLY_COLUMNS}


def test_uses_instruction_reads_the_registry_entry_and_names_a_missing_one(tmp_path):
    source = write_txt(tmp_path / "src")
    assert convert_cli(source, tmp_path).returncode == 0
    here = {"dataset_dir": "."}  # the recipe's dataset_dir, relative to where llamafactory-cli runs
    assert uses_instruction({**here, "eval_dataset": "emotion_test"}, tmp_path) is True
    assert uses_instruction({**here, "dataset": "emotion_train_text"}, tmp_path) is False
    with pytest.raises(DataError, match="no dataset 'emotion_tset' registered"):
        uses_instruction({**here, "eval_dataset": "emotion_tset"}, tmp_path)


def test_file_names_are_relative_to_the_registry_folder(tmp_path):
    entry = registry_entry(tmp_path / "data" / "x.json", tmp_path / "conf" / "dataset_info.json")
    assert entry["file_name"] == "../data/x.json"


def test_committed_registry_matches_what_the_converter_writes():
    """The top-level dataset_info.json is committed; it must be what the default conversion produces."""
    registry = json.loads((REPO_ROOT / "dataset_info.json").read_text())
    info = REPO_ROOT / "dataset_info.json"
    for split in SPLITS:
        name = EMOTION.dataset_name(split)
        assert registry[name] == registry_entry(REPO_ROOT / "data" / f"{name}.json", info)
        text_only = registry_entry(REPO_ROOT / "data" / f"{name}.json", info, TEXT_ONLY_COLUMNS)
        assert registry[EMOTION.dataset_name(split, text_only=True)] == text_only


def _write_table(path: Path, rows, labels=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = labels if labels is not None else [y for _, y in rows]
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": labels}), path)


def test_hub_parquet_layout_with_integer_labels(tmp_path):
    source = tmp_path / "emotion"
    for split in ("train", "validation", "test"):
        # The hub's own layout for dair-ai/emotion: split/<split>-00000-of-00001.parquet, int64 label ids.
        _write_table(source / "split" / f"{split}-00000-of-00001.parquet", ROWS, labels=list(range(6)))
    _write_table(source / "unsplit" / "train-00000-of-00001.parquet", ROWS[:1], labels=[0])  # ignored
    result = convert_cli(source, tmp_path)
    assert result.returncode == 0, result.stderr
    records = read_records(tmp_path / "out" / "emotion_validation.json")
    assert [(r["input"], r["output"]) for r in records] == [(t, y) for t, y in ROWS]


def test_csv_and_jsonl_sources(tmp_path):
    source = tmp_path / "mixed"
    source.mkdir()
    (source / "train.csv").write_text("text,label\n" + "".join(f'"{t}, really",{y}\n' for t, y in ROWS))
    (source / "validation.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": i}) + "\n" for i, (t, _) in enumerate(ROWS))
    )
    _write_table(source / "test.parquet", ROWS)
    splits = load_splits(source, EMOTION)
    assert [e.text for e in splits["train"]][:1] == ["i feel so alone tonight, really"]
    assert [e.label for e in splits["validation"]] == list(EMOTION.labels)
    assert len(splits["test"]) == 6


def test_stratified_sample_is_seeded_and_keeps_class_proportions(emotion_dir):
    train = load_splits(emotion_dir, EMOTION)["train"]
    sample = stratified_sample(train, 1600, seed=42)
    assert sample == stratified_sample(train, 1600, seed=42)
    assert sample != stratified_sample(train, 1600, seed=7)
    counts = class_counts({"train": sample}, EMOTION).loc["train"]
    for label, full in EXPECTED_COUNTS["train"].items():
        assert abs(counts[label] - full / 10) <= 1
    assert [train.index(e) for e in sample[:50]] == sorted(train.index(e) for e in sample[:50])  # original order


def test_sample_sizes_from_the_command_line(emotion_dir, tmp_path):
    result = convert_cli(emotion_dir, tmp_path, "--train-size", "60", "--test-size", "30")
    assert result.returncode == 0, result.stderr
    sizes = {s: len(read_records(tmp_path / "out" / f"emotion_{s}.json")) for s in ("train", "validation", "test")}
    assert sizes == {"train": 60, "validation": 2000, "test": 30}


def test_convert_returns_what_it_wrote(tmp_path):
    splits = convert(EMOTION, write_txt(tmp_path / "src"), tmp_path / "out", tmp_path / "info.json")
    assert {s: len(v) for s, v in splits.items()} == {"train": 6, "validation": 6, "test": 6}


# Each bad input: (what to write into train.txt, or a callable that damages the source; text expected in the error)
BAD_TRAIN_LINES = {
    "unknown label": (b"i feel fine;happy\n", "line 1", "unknown label 'happy'"),
    "empty text": (b"i feel fine;joy\n   ;fear\n", "line 2", "empty text"),
    "no separator": (b"i feel fine;joy\ni feel nothing at all\n", "line 2", "no ';' separator"),
    "bad bytes": (b"i feel fine;joy\ni feel \xff\xfe odd;joy\n", "line 2", "not valid UTF-8"),
    "label id out of range": (b"i feel fine;7\n", "line 1", "label id 7 out of range"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAIN_LINES))
def test_bad_lines_fail_with_file_line_and_reason_and_write_nothing(case, tmp_path):
    content, where, reason = BAD_TRAIN_LINES[case]
    source = write_txt(tmp_path / "src")
    (source / "train.txt").write_bytes(content)
    info = tmp_path / "dataset_info.json"
    info.write_text('{"keep": {"file_name": "keep.json"}}\n')
    before = info.read_bytes()
    result = convert_cli(source, tmp_path)
    assert result.returncode != 0
    assert f"{source / 'train.txt'}: {where}: {reason}" in result.stderr
    assert not (tmp_path / "out").exists()
    assert info.read_bytes() == before
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: (write_txt(d), (d / "test.txt").unlink()), "missing split 'test'"),
        (lambda d: (write_txt(d), (d / "val.txt").rename(d / "dev2.txt")), "missing split 'validation'"),
        (lambda d: d.mkdir(), "no split files found"),
        (lambda d: None, "no such directory"),
        (lambda d: (write_txt(d), (d / "train.csv").write_text("text,label\na,joy\n")), "several files for split"),
        (lambda d: (write_txt(d), (d / "test.txt").write_text("\n")), "has no rows"),
    ],
    ids=["missing test", "missing validation", "empty folder", "missing source", "two train files", "empty file"],
)
def test_bad_sources_fail_clearly_and_write_nothing(setup, expected, tmp_path):
    source = tmp_path / "src"
    setup(source)
    result = convert_cli(source, tmp_path)
    assert result.returncode != 0
    assert str(source) in result.stderr and expected in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "dataset_info.json").exists()


def test_bad_csv_and_jsonl_name_the_line(tmp_path):
    source = write_txt(tmp_path / "src")
    (source / "train.txt").unlink()
    (source / "train.jsonl").write_text('{"text": "fine", "label": "joy"}\n{"text": "oops", "label": \n')
    result = convert_cli(source, tmp_path)
    assert result.returncode != 0 and f"{source / 'train.jsonl'}: line 2: not valid JSON" in result.stderr
    (source / "train.jsonl").unlink()
    (source / "train.csv").write_text("sentence,label\nfine,joy\n")
    result = convert_cli(source, tmp_path)
    assert result.returncode != 0 and "line 1: missing column(s) text" in result.stderr


def test_hub_id_that_cannot_be_loaded_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    result = convert_cli(Path("no-such-owner/no-such-dataset"), tmp_path)
    assert result.returncode != 0
    assert "no-such-owner/no-such-dataset: no such folder" in result.stderr
    assert "not a hub dataset in the local cache (HF_HUB_OFFLINE is set)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_relative_folder_typo_that_looks_like_a_hub_id_fails_fast(tmp_path):
    """`fx/base` for `fix/base`: with no hub (here) or a hub without it (elsewhere), say so at once, not after
    half a minute of retries, and say first that the folder does not exist."""
    start = time.monotonic()
    result = convert_cli(Path("no-such-owner-emotion-sft/no-such-dataset"), tmp_path)
    assert result.returncode == 1 and time.monotonic() - start < 15
    assert "error: no-such-owner-emotion-sft/no-such-dataset: no such folder (" in result.stderr
    assert "hub" in result.stderr and "Retrying" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "dataset_info.json").exists()


def test_malformed_registry_is_reported_and_left_alone(tmp_path):
    source = write_txt(tmp_path / "src")
    info = tmp_path / "dataset_info.json"
    info.write_text('{\n  "a": 1,\n}\n')
    result = convert_cli(source, tmp_path)
    assert result.returncode != 0 and f"{info}: line 3: not valid JSON" in result.stderr
    assert info.read_text() == '{\n  "a": 1,\n}\n' and not (tmp_path / "out").exists()


def test_every_target_is_checked_before_any_file_is_written(tmp_path):
    source = write_txt(tmp_path / "src")
    (tmp_path / "file").write_text("x")
    out, info = tmp_path / "out", tmp_path / "dataset_info.json"
    cases = {
        "registry under a file": ("--dataset-info", tmp_path / "file" / "dataset_info.json", "is a file, not a folder"),
        "output dir is a file": ("--output-dir", tmp_path / "file", "is a file, not a folder"),
        "registry is a folder": ("--dataset-info", tmp_path / "src", "is a folder"),
    }
    for option, value, reason in cases.values():
        args = {"--output-dir": out, "--dataset-info": info, option: value}
        result = run_script("convert_emotion.py", "--source", source, *[str(x) for kv in args.items() for x in kv])
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(f"error: {value}") and reason in result.stderr
        assert "nothing was written" in result.stderr and result.stderr.count("\n") == 1
        assert not out.exists() and not info.exists() and (tmp_path / "file").read_text() == "x"


def test_a_read_only_registry_is_refused_and_nothing_written(tmp_path):
    source = write_txt(tmp_path / "src")
    info = tmp_path / "dataset_info.json"
    info.write_text("{}\n")
    info.chmod(0o444)
    result = convert_cli(source, tmp_path)
    assert result.returncode == 1
    assert f"error: {info}: read-only file; not replaced" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists() and info.read_text() == "{}\n"


@pytest.mark.skipif(os.getuid() == 0, reason="root may write into a read-only folder")
def test_a_registry_in_a_read_only_folder_is_refused_and_nothing_written(tmp_path):
    source = write_txt(tmp_path / "src")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = convert_cli(source, tmp_path, "--dataset-info", locked / "dataset_info.json")
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1 and "is not writable" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_registry_keeps_its_mode_and_its_symlink(tmp_path):
    source = write_txt(tmp_path / "src")
    real = tmp_path / "conf" / "dataset_info.json"
    real.parent.mkdir()
    real.write_text("{}\n")
    real.chmod(0o644)
    (tmp_path / "dataset_info.json").symlink_to(real)
    assert convert_cli(source, tmp_path).returncode == 0
    assert (tmp_path / "dataset_info.json").is_symlink() and "emotion_train" in json.loads(real.read_text())
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    # file_name stays relative to the folder LLaMA-Factory is given: the link's.
    assert json.loads(real.read_text())["emotion_train"]["file_name"] == "out/emotion_train.json"


@pytest.mark.parametrize("end", ["\r", "\r\n"], ids=["CR", "CRLF"])
def test_every_format_reads_cr_and_crlf_line_ends(tmp_path, end):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.txt").write_bytes(end.join(f"{t};{y}" for t, y in ROWS).encode())
    (source / "val.csv").write_bytes(end.join(["text,label", *(f"{t},{y}" for t, y in ROWS)]).encode())
    lines = [json.dumps({"text": t, "label": y}) for t, y in ROWS]
    (source / "test.jsonl").write_bytes(end.join(lines).encode())
    splits = load_splits(source, EMOTION)
    for split in ("train", "validation", "test"):
        assert [(e.text, e.label) for e in splits[split]] == ROWS


@pytest.mark.parametrize(
    ("rows", "where", "reason"),
    [
        # The stray quote opens on line 3 and closes on line 5, where a label follows: 3 rows would become 1.
        ('a,joy\n"b,anger\nc,fear\nd",love\ne,fear\n', "line 3", "a quoted field runs on to line 5: a stray"),
        ('a,joy\n"b,anger\nc,fear\n', "line 3", "the row runs on to line 4: a stray"),  # never closed
        ("a,joy\nb,anger,fear\n", "line 3", "3 fields, the header has 2"),
    ],
    ids=["stray quote closed later", "stray quote never closed", "extra field"],
)
def test_a_csv_row_that_swallows_others_is_refused(tmp_path, rows, where, reason):
    source = write_txt(tmp_path / "src")
    (source / "train.txt").unlink()
    (source / "train.csv").write_text("text,label\n" + rows)
    with pytest.raises(DataError) as error:
        load_splits(source, EMOTION)
    assert f"{source / 'train.csv'}: {where}: " in str(error.value) and reason in str(error.value)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["train-00000-of-00001.txt", "train-00000-of-00001 (1).txt"], "several files for split 'train'"),
        (["train.txt", "train (1).txt"], "several files for split 'train'"),
        (["train-00000-of-00002.txt"], "are not one complete set"),
        (["train-00000-of-00002.txt", "train-00000-of-00002 (1).txt"], "several files for split 'train'"),
    ],
    ids=["duplicate shard", "duplicate file", "missing shard", "duplicate of a shard"],
)
def test_a_browsers_duplicate_or_a_missing_shard_is_refused(tmp_path, names, expected):
    source = write_txt(tmp_path / "src", names=("val", "test"))
    for name in names:
        (source / name).write_text("".join(f"{t};{y}\n" for t, y in ROWS))
    with pytest.raises(DataError, match=expected):
        load_splits(source, EMOTION)


def test_complete_shards_are_read_in_order(tmp_path):
    source = write_txt(tmp_path / "src", names=("val", "test"))
    (source / "train-00001-of-00002.txt").write_text("".join(f"{t};{y}\n" for t, y in ROWS[3:]))
    (source / "train-00000-of-00002.txt").write_text("".join(f"{t};{y}\n" for t, y in ROWS[:3]))
    assert [(e.text, e.label) for e in load_splits(source, EMOTION)["train"]] == ROWS


def test_parquet_text_as_bytes_is_read_as_text(tmp_path):
    source = write_txt(tmp_path / "src", names=("train", "val"))
    texts = pa.array([t.encode() for t, _ in ROWS], type=pa.binary())
    pq.write_table(pa.table({"text": texts, "label": pa.array([y.encode() for _, y in ROWS])}), source / "test.parquet")
    assert [(e.text, e.label) for e in load_splits(source, EMOTION)["test"]] == ROWS
    pq.write_table(pa.table({"text": pa.array([b"ok", b"\xff bad"]), "label": [1, 2]}), source / "test.parquet")
    with pytest.raises(DataError, match=r"test.parquet: row 2: not valid UTF-8"):
        load_splits(source, EMOTION)


@pytest.mark.parametrize(
    ("text", "kind"), [({"en": "i am happy"}, "an object"), (["i am", "happy"], "a list"), (3, "a number")]
)
def test_jsonl_text_that_is_not_a_string_is_refused(tmp_path, text, kind):
    source = write_txt(tmp_path / "src", names=("train", "val"))
    (source / "test.jsonl").write_text('{"text": "fine", "label": "joy"}\n' + json.dumps({"text": text, "label": 1}))
    with pytest.raises(DataError, match=f"test.jsonl: line 2: text is {kind}, expected a string"):
        load_splits(source, EMOTION)


def test_a_sample_size_that_cannot_be_drawn_says_what_was_asked(emotion_dir, tmp_path):
    result = convert_cli(emotion_dir, tmp_path, "--test-size", "1999")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "split 'test': a stratified sample of 1999 of its 2000 rows must" in result.stderr
    assert "ask for 6 to 1994 rows, or all 2000" in result.stderr and "test_size = 1" not in result.stderr
    assert not (tmp_path / "out").exists()
