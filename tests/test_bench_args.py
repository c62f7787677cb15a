"""scripts/bench.py refuses bad arguments and missing inputs in one line, before the first section runs."""

from __future__ import annotations

import pytest

from conftest import run_script


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--train-rows", "-5"], "argument --train-rows: '-5' is not a positive integer"),
        (["--train-rows", "0"], "argument --train-rows: '0' is not a positive integer"),
        (["--test-rows", "-1"], "argument --test-rows: '-1' is not a positive integer"),
        (["--encoder-rows", "0"], "argument --encoder-rows: '0' is not a positive integer"),
        (["--sections", "scoring,trian"], "argument --sections: 'scoring,trian': give one or more of train, scoring"),
        (["--sections", ","], "argument --sections: ',': give one or more of"),
        (["--output-dir", "{file}"], "argument --output-dir: {file}: is a file; give a folder path"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_arguments_are_refused(tmp_path, args, expected):
    file = tmp_path / "file"
    file.write_text("x")
    args = [arg.format(file=file) for arg in args]
    result = run_script("bench.py", "--model", tmp_path / "no-model", "--dataset-dir", tmp_path, *args)
    assert result.returncode == 2 and expected.format(file=file) in result.stderr and "Traceback" not in result.stderr


def test_missing_inputs_are_reported_before_any_section_runs(tmp_path):
    model, data = tmp_path / "model", tmp_path / "repo"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data.mkdir()
    (data / "dataset_info.json").write_text("{}")
    common = ["--model", model, "--dataset-dir", data, "--output-dir", tmp_path / "out"]
    result = run_script("bench.py", *common, "--sections", "scoring,encoder")
    assert (
        result.returncode == 1
        and result.stderr == f"error: {data / 'data' / 'emotion_test.json'} not found: run `make data` first\n"
    )
    (data / "data").mkdir()
    (data / "data" / "emotion_test.json").write_text("[]")
    result = run_script("bench.py", *common, "--sections", "encoder")
    assert result.returncode == 1 and "emotion_train.json not found" in result.stderr
    result = run_script("bench.py", *common, "--sections", "scoring", "--adapter", tmp_path / "none")
    assert result.returncode == 1 and result.stderr.startswith(f"error: no adapter at {tmp_path / 'none'}")
    assert not (tmp_path / "out").exists()
