"""The one error path of every script: a user's mistake becomes one `error: ...` line and exit 1.

Each script has `main(argv) -> int` and ends with `sys.exit(run(main))`. Code anywhere below it raises
`UserError` (a bad argument, a missing model), `DataError` (a bad input file: file, line, reason) or lets an
`OSError` through (no such file, permission denied); `run` prints the message and returns 1. Anything else
is a bug of ours and keeps its traceback. The argument types here refuse bad values while argparse parses,
before any model is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .fileio import DataError, check_folder_writable, writable_target


class UserError(Exception):
    """A mistake the user can fix from the message alone; `run` prints it without a traceback."""


def describe(exc: BaseException) -> str:
    """The one-line message of a user error (an OSError names its file)."""
    if isinstance(exc, OSError) and exc.strerror:
        names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
        return f"{' -> '.join(names)}: {exc.strerror}" if names else exc.strerror
    return str(exc)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call `main(argv)`; user errors become `error: ...` on stderr and exit status 1."""
    try:
        return main(argv)
    except (UserError, DataError, OSError) as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def loading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a folder or hub id that transformers or PEFT cannot load (OSError, ValueError) into a UserError."""
    try:
        yield
    except (OSError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: cannot load it ({reason})") from exc


def positive_int(value: str) -> int:
    """argparse type: an integer of at least 1."""
    number = _int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def non_negative_int(value: str) -> int:
    """argparse type: an integer of at least 0."""
    number = _int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is negative")
    return number


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def output_file(value: str) -> Path:
    """argparse type: a file path we may write: not a folder, not read-only, not under a file."""
    try:
        writable_target(value)
    except OSError as exc:
        raise argparse.ArgumentTypeError(describe(exc)) from None
    return Path(value)


def output_dir(value: str) -> Path:
    """argparse type: a folder path we may write into: not an existing file, not under a file."""
    path = Path(value)
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "is a file; give a folder path", value)
        check_folder_writable(path, value)
    except OSError as exc:
        raise argparse.ArgumentTypeError(describe(exc)) from None
    return path
