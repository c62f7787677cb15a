"""scripts/eval_accuracy.py as users run it: outputs, comparisons, and every bad input."""

from __future__ import annotations

import json

import pytest

from conftest import EMOTION, run_script

GOLD = ["sadness", "joy", "love", "anger", "fear", "surprise"] * 5


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def llamafactory_rows(answers):
    return [
        {"prompt": f"text {i}", "predict": answer, "label": f"{gold}\n"}
        for i, (answer, gold) in enumerate(zip(answers, GOLD, strict=True))
    ]


def test_two_runs_scored_and_compared(tmp_path):
    generated = write_jsonl(
        tmp_path / "generated.jsonl",
        llamafactory_rows([f"The emotion is {g}." for g in GOLD[:24]] + ["no idea"] * 3 + ["anger", "joy", "joy"]),
    )
    classifier = write_jsonl(
        tmp_path / "classifier.jsonl", [{"text": f"text {i}", "predict": g, "label": g} for i, g in enumerate(GOLD)]
    )
    result = run_script("eval_accuracy.py", generated, classifier, "--output-dir", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(25 / 30)  # 24, plus "anger" on row 27
    assert metrics["n"] == 30 and metrics["n_unparsed"] == 3
    assert set(metrics["per_class"]) == {"sadness", "joy", "love", "anger", "fear", "surprise"}
    assert metrics["others"]["classifier"]["accuracy"] == 1.0
    assert metrics["mcnemar"] == [
        {"a": "generated", "b": "classifier", "a_only": 0, "b_only": 5, "p_value": pytest.approx(0.0625)}
    ]
    report = (tmp_path / "eval" / "report.md").read_text()
    for baseline in EMOTION.baselines:  # the task's published figures, with their sources
        assert f"| {baseline['model']} " in report and f"{baseline['accuracy']:.4f}" in report
    assert all(reference in report for reference in EMOTION.references)
    assert "| generated" in report and "McNemar" in report and "0.8333" in report
    assert (tmp_path / "eval" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "RoBERTa-large" in result.stdout and "0.8333" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"predict": "joy", "label": "joy\\n"}\n{"predict": "joy", "label": \n', "line 2: not valid JSON"),
        ("", "no predictions (empty file)"),
        ('{"predict": "joy", "label": "happy\\n"}\n', "line 1: gold label 'happy\\n' is not one of"),
        ('{"predict": "joy"}\n', "line 1: expected a JSON object with 'predict' and 'label'"),
    ],
    ids=["malformed line", "empty file", "gold outside label set", "missing key"],
)
def test_bad_predictions_fail_clearly(tmp_path, content, expected):
    path = tmp_path / "generated_predictions.jsonl"
    path.write_text(content)
    result = run_script("eval_accuracy.py", path, "--output-dir", tmp_path / "eval")
    assert result.returncode != 0
    assert f"{path}: {expected}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "eval").exists()


def test_runs_on_different_test_sets_are_refused(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", llamafactory_rows(GOLD))
    b = write_jsonl(tmp_path / "b.jsonl", llamafactory_rows(GOLD)[:-1])
    result = run_script("eval_accuracy.py", a, b, "--output-dir", tmp_path / "eval")
    assert result.returncode != 0 and "not the same rows" in result.stderr
    c = write_jsonl(tmp_path / "c.jsonl", [dict(row, label="joy") for row in llamafactory_rows(GOLD)])
    result = run_script("eval_accuracy.py", a, c, "--output-dir", tmp_path / "eval")
    assert result.returncode != 0 and f"{c}: not the same rows" in result.stderr


def test_missing_file_is_reported(tmp_path):
    result = run_script("eval_accuracy.py", tmp_path / "nope.jsonl", "--output-dir", tmp_path / "eval")
    assert result.returncode != 0 and "nope.jsonl: No such file or directory" in result.stderr


def test_macro_f1_leaves_out_labels_that_never_occur(tmp_path):
    gold = ["sadness", "joy", "love", "anger", "fear"] * 4  # 20 rows, no surprise
    rows = [{"text": str(i), "predict": g, "label": g} for i, g in enumerate(gold)]
    path = write_jsonl(tmp_path / "perfect.jsonl", rows)
    result = run_script("eval_accuracy.py", path, "--output-dir", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["macro_f1"] == 1.0
    assert "macro F1 over the labels that occur" in (tmp_path / "eval" / "report.md").read_text()


def test_files_of_the_same_name_get_distinct_default_names(tmp_path):
    rows = [{"text": str(i), "predict": g, "label": g} for i, g in enumerate(GOLD)]
    for folder in "ab":
        (tmp_path / folder).mkdir()
        write_jsonl(tmp_path / folder / "predictions.jsonl", rows)
    a, b = tmp_path / "a" / "predictions.jsonl", tmp_path / "b" / "predictions.jsonl"
    result = run_script("eval_accuracy.py", a, b, "--output-dir", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    assert "as 'a/predictions'" in result.stdout and "as 'b/predictions'" in result.stdout
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["name"] == "a/predictions" and list(metrics["others"]) == ["b/predictions"]
    again = tmp_path / "b" / ".." / "a" / "predictions.jsonl"
    result = run_script("eval_accuracy.py", a, again, "--output-dir", tmp_path / "eval")
    assert result.returncode == 1 and "is given twice" in result.stderr and "--names" not in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", "-1"], "argument --seed: '-1' is negative"),
        (["--seed", str(2**32)], "argument --seed: '4294967296' is too large"),
        (["--output-dir", "{file}"], "argument --output-dir: {file}: is a file; give a folder path"),
        (["--names", "a,a"], "--names needs one distinct, non-empty name per predictions file"),
    ],
    ids=["negative seed", "seed too large", "output dir is a file", "names clash"],
)
def test_bad_arguments_fail_before_reading(tmp_path, args, expected):
    file = tmp_path / "file"
    file.write_text("not a folder")
    args = [arg.format(file=file) for arg in args]
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"text": "x", "predict": "joy", "label": "joy"}])
    result = run_script("eval_accuracy.py", predictions, tmp_path / "q.jsonl", "--output-dir", tmp_path / "eval", *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert expected.format(file=file) in result.stderr and file.read_text() == "not a folder"
