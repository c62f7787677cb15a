"""Atomic file writes: a reader never sees a half-written file, and a failed run leaves none behind.

A replaced file keeps its mode (a new one gets the umask's), a read-only file is refused rather than
replaced, and a symlink is written through: its target is replaced and the link stays.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
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
    return decode(data, path)


def decode(data: bytes, path: str | os.PathLike[str]) -> str:
    """UTF-8 bytes (a BOM dropped) as text; undecodable bytes raise DataError naming `path` and the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.findall(data[: exc.start].decode("utf-8", "replace"))) + 1
        bad = data[exc.start : exc.end]
        raise DataError(path, f"not valid UTF-8 (bytes {bad!r} at offset {exc.start})", f"line {line}") from None


# The line ends a text editor shows: Windows (CRLF), Unix (LF) and old Mac (CR alone).
_LINE_END = re.compile(r"\r\n|\r|\n")


def numbered_lines(path: Path, text: str | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) for the non-blank lines of a UTF-8 file; blank lines (a trailing one) are skipped.
    `text`: the file's content when it is already read (standard input); `path` then only names it."""
    for number, line in enumerate(_LINE_END.split(read_text(path) if text is None else text), start=1):
        if line.strip():
            yield number, line


def read_jsonl(
    path: str | os.PathLike[str], expected: str = "a JSON object", text: str | None = None
) -> Iterator[tuple[int, dict]]:
    """(line number, object) for the non-blank lines of a JSON Lines file; a line that is not valid JSON or
    not an object is a DataError naming the file and line (`expected` says what the object should hold).
    `text`: the content when it is already read (standard input)."""
    for number, line in numbered_lines(Path(path), text):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg})", f"line {number}") from None
        if not isinstance(row, dict):
            raise DataError(path, f"expected {expected}, got {type(row).__name__}", f"line {number}")
        yield number, row


def writable_target(path: str | os.PathLike[str]) -> Path:
    """The file that writing `path` replaces (a symlink's target), once checked that it can be written:
    not a folder, not read-only, not under a file or in a folder we may not write. Raises OSError naming `path`."""
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file path", str(path))
    if target.exists():
        if not target.is_file():
            raise OSError(errno.EINVAL, "not a regular file; not replaced", str(path))
        # os.access alone says yes to root; a file with no write bit is read-only on purpose.
        if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o222:
            raise PermissionError(errno.EACCES, "read-only file; not replaced (make it writable first)", str(path))
    check_folder_writable(target, str(path))
    return target


def check_folder_writable(path: Path, name: str) -> None:
    """Raise OSError naming `name` unless the nearest existing folder above `path` is a folder we may write."""
    for parent in Path(path).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder", name)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, f"folder {parent} is not writable", name)
            return


def umask() -> int:
    """The process's umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str, mode: int | None = None) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename it into place.

    The file keeps its mode, owner and group (a new one gets 0666 less the umask, as `open` gives it);
    a symlink keeps pointing at the file, which is replaced; a read-only file raises PermissionError.
    `mode` sets the mode instead (0o600 for a secret): the file has it before it is visible under `path`."""
    target = writable_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.stat() if target.exists() else None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode if mode is not None else stat.S_IMODE(old.st_mode) if old else 0o666 & ~umask())
        if old and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(PermissionError):  # only root may give a file away; others keep their own
                os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(obj: Any) -> str:
    """The one JSON style of every file we write: 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
