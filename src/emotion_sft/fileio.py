"""Atomic file writes: a reader never sees a half-written file, and a failed run leaves none behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Bad input: names the file (or hub id), where in it, and what was expected."""

    def __init__(self, source: str | os.PathLike[str], reason: str, where: str | None = None) -> None:
        self.source, self.reason, self.where = str(source), reason, where
        super().__init__(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


def read_text(path: Path) -> str:
    """A UTF-8 file's text; undecodable bytes raise DataError with their line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, exc.strerror or str(exc)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end]
        raise DataError(path, f"not valid UTF-8 (bytes {bad!r} at offset {exc.start})", f"line {line}") from None


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) for the non-blank lines of a UTF-8 file; blank lines (a trailing one) are skipped."""
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(obj: Any) -> str:
    """The one JSON style of every file we write: 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
