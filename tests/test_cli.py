"""The shared error path: user errors become one `error:` line and exit 1; bugs keep their traceback."""

from __future__ import annotations

import argparse
import ast

import pytest

from conftest import REPO_ROOT
from emotion_sft.cli import UserError, non_negative_int, output_dir, output_file, positive_int, run
from emotion_sft.fileio import DataError


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UserError("--limit must be positive"), "error: --limit must be positive"),
        (DataError("a.jsonl", "empty text", "line 3"), "error: a.jsonl: line 3: empty text"),
        (FileNotFoundError(2, "No such file or directory", "x/recipe.yaml"), "error: x/recipe.yaml: No such file"),
    ],
)
def test_user_errors_become_one_line_and_exit_1(capsys, error, message):
    def main(argv):
        raise error

    assert run(main, []) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_a_bug_keeps_its_traceback():
    def main(argv):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run(main, [])


def test_main_gets_argv_and_its_status_is_returned():
    assert run(lambda argv: len(argv), ["a", "b"]) == 2


def test_argument_types(tmp_path):
    assert positive_int("3") == 3 and non_negative_int("0") == 0
    for bad, kind in [("0", positive_int), ("-1", positive_int), ("x", positive_int), ("-1", non_negative_int)]:
        with pytest.raises(argparse.ArgumentTypeError):
            kind(bad)
    (tmp_path / "file").write_text("x")
    assert output_file(str(tmp_path / "new" / "out.jsonl")) == tmp_path / "new" / "out.jsonl"
    assert output_dir(str(tmp_path / "new")) == tmp_path / "new"
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        output_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="is a file"):
        output_dir(str(tmp_path / "file"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
        output_file(str(tmp_path / "file" / "out.jsonl"))


@pytest.mark.parametrize("script", sorted((REPO_ROOT / "scripts").glob("*.py")), ids=lambda p: p.name)
def test_every_script_goes_through_the_shared_error_path(script):
    tree = ast.parse(script.read_text())
    main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
    assert [arg.arg for arg in main.args.args] == ["argv"]
    assert "sys.exit(run(main))" in script.read_text() or script.name == "defaults.py"  # it only prints paths
