"""The atomic writer keeps what it replaces (mode, owner, symlink), refuses a read-only file, and the readers
split lines the way an editor shows them."""

from __future__ import annotations

import os
import stat

import pytest

from emotion_sft import fileio
from emotion_sft.fileio import DataError, numbered_lines, read_text, write_text_atomic


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umasks_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}\n")
        os.umask(0o002)
        write_text_atomic(tmp_path / "sub" / "b.json", "{}\n")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "a.json") == 0o644 and mode(tmp_path / "sub" / "b.json") == 0o664
    assert (tmp_path / "a.json").read_text() == "{}\n"


def test_a_replaced_file_keeps_its_mode_and_owner(tmp_path):
    path = tmp_path / "dataset_info.json"
    path.write_text("old\n")
    path.chmod(0o640)
    if os.getuid() == 0:  # only root can give a file away: check the owner is kept too
        os.chown(path, 1234, 5678)
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n" and mode(path) == 0o640
    if os.getuid() == 0:
        assert (path.stat().st_uid, path.stat().st_gid) == (1234, 5678)
    assert [p.name for p in tmp_path.iterdir()] == ["dataset_info.json"]  # no temporary file left


def test_a_read_only_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "dataset_info.json"
    path.write_text("keep\n")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only file") as error:
        write_text_atomic(path, "new\n")
    assert error.value.filename == str(path)
    assert path.read_text() == "keep\n" and mode(path) == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["dataset_info.json"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "shared" / "dataset_info.json"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o664)
    link = tmp_path / "dataset_info.json"
    link.symlink_to(real)
    write_text_atomic(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n" and mode(real) == 0o664
    assert sorted(p.name for p in real.parent.iterdir()) == ["dataset_info.json"]


def test_targets_that_cannot_be_written_are_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        fileio.writable_target(tmp_path / "file" / "dataset_info.json")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        fileio.writable_target(tmp_path)
    assert fileio.writable_target(tmp_path / "new" / "a.json") == tmp_path / "new" / "a.json"


@pytest.mark.skipif(os.getuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            fileio.writable_target(folder / "a.json")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_lines_end_at_lf_crlf_or_cr_alone(tmp_path, end):
    path = tmp_path / "train.txt"
    path.write_bytes(end.join(["a;joy", "", "b;fear", "c;love", ""]).encode())
    assert list(numbered_lines(path)) == [(1, "a;joy"), (3, "b;fear"), (4, "c;love")]


def test_undecodable_bytes_name_their_line_whatever_the_line_ends(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes(b"a;joy\rb;fear\r\xff;love\r")
    with pytest.raises(DataError, match="line 3: not valid UTF-8"):
        read_text(path)


def test_an_explicit_mode_is_the_files_mode_from_the_start(tmp_path):
    secret = tmp_path / "key"
    write_text_atomic(secret, "s3cret\n", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    secret.chmod(0o644)
    write_text_atomic(secret, "n3w\n", mode=0o600)  # not the old file's mode
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == "n3w\n"
