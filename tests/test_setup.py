"""`make setup` on a fresh machine: it finds a suitable Python by itself, or says what it found."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def interpreter(version: str) -> Path:
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no Python {version} on this machine")
    return found[-1]


def make_setup(tmp_path: Path, pythons: dict[str, Path], dry_run: bool) -> subprocess.CompletedProcess[str]:
    """`make setup` with only `pythons` (name -> interpreter) on PATH, and a venv that does not exist yet."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in pythons.items():
        (bin_dir / name).symlink_to(target)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "PYTHON": "python2"}  # PYTHON from the environment is ignored
    command = [shutil.which("make"), "--no-print-directory", *(["-n"] if dry_run else []), "setup",
               f"VENV={tmp_path / 'venv'}"]  # fmt: skip
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_takes_the_first_suitable_python(tmp_path):
    result = make_setup(tmp_path, {"python3": interpreter("3.12"), "python3.10": interpreter("3.10")}, dry_run=True)
    assert result.returncode == 0, result.stderr
    assert "python3 -m venv" in result.stdout and "python3.10 -m venv" not in result.stdout


def test_names_what_it_found_when_nothing_fits(tmp_path):
    result = make_setup(tmp_path, {"python3": interpreter("3.10")}, dry_run=False)
    assert result.returncode != 0 and not (tmp_path / "venv").exists()
    assert "error: no Python 3.11 to 3.13 found; have: python3=3.10." in result.stderr
