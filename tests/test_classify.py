"""scripts/classify.py, calibrate.py, ensemble.py and predict_split.py on the tiny LLM and the real bundled encoder.

The checks of bad input run in-process on a folder that only looks like an encoder, with loading forbidden:
every refusal comes before the model loads. The slow tests train the real all-MiniLM-L6-v2 for 4 steps, make
an untrained LoRA adapter for the tiny Llama, and run the scripts as a user would.
"""

from __future__ import annotations

import importlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import EMOTION, REPO_ROOT, convert_sample, run_script
from emotion_sft.classifiers import MADE_BY, RECIPE_FILE, ModelSpec, read_ensemble, read_model, scale
from emotion_sft.cli import run

ADDED = ["label", "confidence", *(f"p_{label}" for label in EMOTION.labels)]


# ---- bad input: refused before the model loads -----------------------------------------------------------------
@pytest.fixture
def fake_encoder(tmp_path: Path) -> Path:
    """A folder that reads as an encoder adapter of the emotion task; its base model cannot load."""
    path = tmp_path / "model"
    path.mkdir()
    (tmp_path / "empty-base").mkdir()
    (path / "encoder_config.json").write_text(json.dumps({"model": str(tmp_path / "empty-base"), "max_length": 32}))
    (path / "adapter_config.json").write_text("{}")
    EMOTION.save(path)
    return path


@pytest.fixture
def script(monkeypatch):
    """Run a script's main() in this process (as `python scripts/NAME.py` would, exit status returned); a model
    that starts loading fails the test."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "scripts"))

    def forbidden(self, calibrated=True):
        raise AssertionError(f"{self.path} was loaded")

    monkeypatch.setattr(ModelSpec, "load", forbidden)

    def call(name: str, *args: str | Path, stdin: str | None = None) -> int:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return run(importlib.import_module(name).main, [str(a) for a in args])

    return call


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(capsys, message: str) -> str:
    """The one `error:` line a refused run printed, checked to start with `message`."""
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}"), captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err


BAD_ROWS = {
    "empty csv cell": ("in.csv", "id,text\n1,hello\n2,world\n3,\n", "line 4: empty 'text' (every row needs a text)"),
    "blank csv cell": ("in.csv", 'id,text\n1,hello\n2,"   "\n', "line 3: empty 'text'"),
    "csv row of other length": ("in.csv", "text,id\nhello,1,\n", "line 2: 3 fields where the header has 2"),
    "csv blank line": ("in.csv", "text\nhello\n\nworld\n", "line 3: 0 fields where the header has 1 (a blank"),
    "csv header repeated": ("in.csv", "text,note,note\na,b,c\n", "line 1: the header names 'note' more than once"),
    "csv header unnamed": ("in.csv", ",text\n0,a\n", "line 1: column 1 of the header has no name"),
    "blank jsonl text": ("in.jsonl", '{"text": "a"}\n\n{"text": "  "}\n', "line 3: empty 'text'"),
    "null jsonl text": ("in.jsonl", '{"text": "a"}\n{"text": null}\n', "line 2: empty 'text'"),
    "jsonl text not a string": ("in.jsonl", '{"text": 7}\n', "line 1: 'text' is a int, not a text"),
    "jsonl row without text": ("in.jsonl", '{"text": "a"}\n{"body": "b"}\n', "line 2: no 'text' in this row"),
    "jsonl not an object": ("in.jsonl", '{"text": "a"}\n["b"]\n', "line 2: expected a JSON object"),
    "no csv column": ("in.csv", "id,body\n1,hello\n", "no column 'text' (columns: id, body); name it with"),
    "header only": ("in.csv", "id,text\n", "no rows to classify"),
    "no txt lines": ("in.txt", "\n  \n", "no rows to classify"),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_refused_naming_the_file_and_row_and_nothing_is_written(case, fake_encoder, script, capsys):
    name, text, message = case
    source = write(fake_encoder.parent / name, text)
    before = sorted(fake_encoder.parent.iterdir())
    for output in ("out.csv", "out.jsonl"):
        assert script("classify", "--model", fake_encoder, "--input", source, "--output", source.parent / output) == 1
        refused(capsys, f"{source}: {message}")
    assert sorted(fake_encoder.parent.iterdir()) == before  # no output, no temporary file left


def test_a_bad_parquet_row_and_a_bad_stdin_line_are_refused(fake_encoder, script, capsys, tmp_path):
    source = tmp_path / "in.parquet"
    pd.DataFrame({"text": ["fine", None], "n": [1, 2]}).to_parquet(source)
    assert script("classify", "--model", fake_encoder, "--input", source, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{source}: row 2: empty 'text'")
    args = ("--model", fake_encoder, "--input", "-", "--input-format", "jsonl", "--output", tmp_path / "o.csv")
    assert script("classify", *args, stdin='{"text": "ok"}\n{"text": ""}\n') == 1
    refused(capsys, "-: line 2: empty 'text'")
    assert not (tmp_path / "o.csv").exists()


def test_an_existing_output_is_left_as_it_was_when_the_input_is_refused(fake_encoder, script, capsys, tmp_path):
    output = write(tmp_path / "labelled.csv", "my earlier results\n")
    source = write(tmp_path / "in.csv", 'text\nfine\n""\n')
    with pytest.raises(SystemExit) as exit:  # an existing output is refused by argparse without --overwrite
        script("classify", "--model", fake_encoder, "--input", source, "--output", output)
    assert exit.value.code == 2 and f"{output} exists; give --overwrite to replace it" in capsys.readouterr().err
    assert script("classify", "--model", fake_encoder, "--input", source, "--output", output, "--overwrite") == 1
    refused(capsys, f"{source}: line 3: empty 'text'")
    assert output.read_text() == "my earlier results\n"


def test_the_text_column_is_named_in_the_error_and_can_be_given(fake_encoder, script, capsys, tmp_path):
    source = write(tmp_path / "tickets.csv", "id,body\n1,my invoice is wrong\n")
    args = ("--model", fake_encoder, "--input", source, "--output", tmp_path / "o.csv")
    assert script("classify", *args, "--text-column", "message") == 1
    refused(capsys, f"{source}: no column 'message' (columns: id, body)")
    with pytest.raises(AssertionError, match="was loaded"):  # every check passed: the model would load now
        script("classify", *args, "--text-column", "body")


def test_input_columns_the_output_would_overwrite_need_a_prefix(fake_encoder, script, capsys, tmp_path):
    source = write(tmp_path / "gold.csv", "text,label,confidence\ni feel sad,sadness,high\n")
    args = ("--model", fake_encoder, "--input", source, "--output", tmp_path / "o.csv")
    assert script("classify", *args) == 1
    err = refused(capsys, f"{source}: has column(s) label, confidence, which the output adds")
    assert "--prefix" in err
    rows = write(tmp_path / "rows.jsonl", '{"text": "a"}\n{"text": "b", "p_joy": 1}\n')
    assert script("classify", "--model", fake_encoder, "--input", rows, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{rows}: has column(s) p_joy")
    with pytest.raises(AssertionError, match="was loaded"):
        script("classify", *args, "--prefix", "pred_")
    assert not (tmp_path / "o.csv").exists()


def test_unknown_files_and_folders_are_refused(fake_encoder, script, capsys, tmp_path):
    source = write(tmp_path / "in.xlsx", "text\nhello\n")
    assert script("classify", "--model", fake_encoder, "--input", source, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{source}: unknown input type '.xlsx'; use .txt, .csv, .jsonl or .parquet")
    csv = write(tmp_path / "in.csv", "text\nhello\n")
    absent = tmp_path / "absent.csv"
    assert script("classify", "--model", fake_encoder, "--input", absent, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{tmp_path / 'absent.csv'}: No such file or directory")
    assert script("classify", "--model", tmp_path, "--input", csv, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{tmp_path}: not a trained model (no ensemble.json, encoder_config.json or adapter_config.json)")
    assert script("classify", "--model", tmp_path / "nowhere", "--input", csv, "--output", tmp_path / "o.csv") == 1
    refused(capsys, f"{tmp_path / 'nowhere'}: no such model folder")
    for output, message in [(tmp_path / "o.txt", "must end in .csv or .jsonl"), (csv, "give another file")]:
        with pytest.raises(SystemExit) as exited:
            script("classify", "--model", fake_encoder, "--input", csv, "--output", output)
        assert exited.value.code == 2 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-base", "in.csv", "in.xlsx", "model"]


def test_a_refused_row_exits_1_from_the_command_line_before_anything_loads(fake_encoder, tmp_path):
    buffer = io.BytesIO()
    pd.DataFrame({"text": ["fine", ""]}).to_parquet(buffer)  # piped: Parquet from a stream that cannot seek
    command = [sys.executable, REPO_ROOT / "scripts" / "classify.py", "--model", fake_encoder, "--input", "-"]
    command += ["--input-format", "parquet", "--output", tmp_path / "o.csv"]
    result = subprocess.run(command, input=buffer.getvalue(), capture_output=True, cwd=REPO_ROOT, timeout=600)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert stderr.splitlines()[-1] == "error: -: row 2: empty 'text' (every row needs a text)"
    assert not (tmp_path / "o.csv").exists()


def test_calibration_files_written_by_someone_else_are_not_replaced(fake_encoder, script, capsys, tmp_path):
    foreign = write(fake_encoder / "calibration.json", json.dumps({"temperature": 1.3}))
    assert script("calibrate", "--model", fake_encoder, "--data", tmp_path / "validation.json") == 1
    refused(capsys, f"{foreign}: exists and was not written by emotion-sft; not replaced")
    other = tmp_path / "other"
    other.mkdir()
    for name in ("encoder_config.json", "adapter_config.json", "task.yaml"):
        (other / name).write_bytes((fake_encoder / name).read_bytes())
    args = ("--members", fake_encoder, other, "--output-dir", tmp_path / "ens", "--data", tmp_path / "v.json")
    # a member's own calibration is only read (and applied), never replaced: that is no reason to refuse
    assert script("ensemble", *args) == 1
    refused(capsys, f"{tmp_path / 'v.json'}: ")
    assert json.loads(foreign.read_text()) == {"temperature": 1.3}
    foreign.unlink()
    (tmp_path / "ens").mkdir()
    spec = write(tmp_path / "ens" / "ensemble.json", json.dumps({"members": []}))
    assert script("ensemble", *args) == 1
    refused(capsys, f"{spec}: exists and was not written by emotion-sft")
    assert json.loads(spec.read_text()) == {"members": []} and not foreign.exists()


# ---- the real models ---------------------------------------------------------------------------------------------
def write_recipe(path: Path, model: Path, dataset_dir: Path) -> Path:
    """The prompt settings `make train` saves beside an adapter: the CPU recipe's, on the converted sample."""
    settings = {"model_name_or_path": model, "template": "smollm2", "default_system": '""'}
    settings |= {"dataset_dir": dataset_dir, "eval_dataset": "emotion_test_text"}
    path.write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    return path


def lora_adapter(base: Path, path: Path) -> Path:
    """An untrained LoRA adapter (r=4 on every linear layer) for the tiny Llama, saved as training saves one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear")
    get_peft_model(model, config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def models(emotion_dir, tiny_llama, tmp_path_factory) -> SimpleNamespace:
    """A converted sample (64 / 60 / 30), the encoder trained on it for 4 steps, and the tiny LLM's adapter."""
    root = tmp_path_factory.mktemp("classify")
    convert_sample(emotion_dir, root, 64, 60, 30)
    encoder = root / "minilm"
    result = run_script(
        "train_encoder_baseline.py",
        "--data-dir",
        root / "data",
        "--output-dir",
        encoder,
        "--max-steps",
        "4",
        "--batch-size",
        "16",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    llm = lora_adapter(tiny_llama, root / "llm")
    EMOTION.save(llm)
    write_recipe(llm / RECIPE_FILE, tiny_llama, root)
    records = json.loads((root / "data" / "emotion_test.json").read_text())
    texts = list(dict.fromkeys(r["input"] for r in records))[:12]
    return SimpleNamespace(
        root=root,
        encoder=encoder,
        llm=llm,
        validation=root / "data" / "emotion_validation.json",
        test=root / "data" / "emotion_test.json",
        texts=texts,
    )


@pytest.fixture(scope="module")
def calibrated(models) -> subprocess.CompletedProcess:
    """calibrate.py on the encoder, fitted on the sample's validation split."""
    result = run_script("calibrate.py", "--model", models.encoder, "--data", models.validation)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def classify(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO_ROOT / "scripts" / "classify.py"), *map(str, args)]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def read_rows(path: Path) -> list[dict]:
    """An output file's rows (CSV values as the strings in the file)."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict(orient="records")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_labelled(output: Path, given: list[dict], prefix: str = "") -> np.ndarray:
    """Every input row, in order, with its own columns and values first, then the label, its confidence and
    one probability per label, summing to 1; returns the probabilities."""
    added = [prefix + column for column in ADDED]
    rows = read_rows(output)
    assert len(rows) == len(given)
    probs = []
    for row, source in zip(rows, given, strict=True):
        assert list(row) == [*source, *added]
        assert {key: row[key] for key in source} == source
        p = np.array([float(row[column]) for column in added[2:]])
        assert (p >= 0).all() and p.sum() == pytest.approx(1.0, abs=1e-5)  # 6 decimals each
        assert float(row[added[1]]) == pytest.approx(p.max())
        assert row[added[0]] == EMOTION.labels[int(p.argmax())]
        probs.append(p)
    return np.array(probs)


@pytest.fixture(scope="module")
def encoder_runs(models, calibrated) -> dict[str, tuple[list[dict], Path]]:
    """classify.py with the calibrated encoder on each input format: (the input's rows, the output file)."""
    out = models.root / "formats"
    out.mkdir()
    texts, runs = models.texts, {}

    # .txt, one text a line; small batches
    write(out / "in.txt", "".join(f"{t}\n" for t in texts))
    classify("--model", models.encoder, "--input", out / "in.txt", "--output", out / "txt.csv", "--batch-size", "5")
    runs["txt"] = ([{"text": t} for t in texts], out / "txt.csv")

    # .csv with other columns kept as written (leading zeros, commas, quotes, accents), and the gold labels in a
    # column named `label`: the added columns take a prefix
    frame = pd.DataFrame(
        {
            "id": [f"{i:03d}" for i in range(len(texts))],
            "text": texts,
            "label": ["joy"] * len(texts),
            "note": [f'said "hi", then left ({i}) — café' for i in range(len(texts))],
        }
    )
    frame.to_csv(out / "in.csv", index=False)
    classify("--model", models.encoder, "--input", out / "in.csv", "--output", out / "csv.csv", "--prefix", "pred_")
    runs["csv"] = (frame.to_dict(orient="records"), out / "csv.csv")

    # .jsonl with nested values and keys in their own order
    given = [{"id": i, "meta": {"tags": ["a", i], "ok": i % 2 == 0}, "text": t} for i, t in enumerate(texts)]
    write(out / "in.jsonl", "".join(json.dumps(row) + "\n" for row in given))
    classify("--model", models.encoder, "--input", out / "in.jsonl", "--output", out / "jsonl.jsonl")
    runs["jsonl"] = (given, out / "jsonl.jsonl")

    # .parquet with typed columns
    frame = pd.DataFrame({"n": range(len(texts)), "text": texts, "score": [i / 4 for i in range(len(texts))]})
    frame.to_parquet(out / "in.parquet")
    classify("--model", models.encoder, "--input", out / "in.parquet", "--output", out / "parquet.jsonl")
    runs["parquet"] = (frame.to_dict(orient="records"), out / "parquet.jsonl")

    # standard input, in the reverse order
    backwards = texts[::-1]
    classify("--model", models.encoder, "--input", "-", "--output", out / "stdin.jsonl", stdin="\n".join(backwards))
    runs["stdin"] = ([{"text": t} for t in backwards], out / "stdin.jsonl")
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["txt", "csv", "jsonl", "parquet", "stdin"])
def test_the_encoder_labels_every_input_format_keeping_rows_and_columns(encoder_runs, kind):
    given, output = encoder_runs[kind]
    check_labelled(output, given, prefix="pred_" if kind == "csv" else "")


@pytest.mark.slow
def test_each_rows_probabilities_follow_it_whatever_the_order_and_batches(encoder_runs):
    def by_text(kind: str) -> dict[str, np.ndarray]:
        given, output = encoder_runs[kind]
        prefix = "pred_" if kind == "csv" else ""
        return {row["text"]: p for row, p in zip(given, check_labelled(output, given, prefix), strict=True)}

    forwards, backwards, csv = by_text("txt"), by_text("stdin"), by_text("csv")
    assert len(forwards) == 12
    for text, probs in forwards.items():
        assert backwards[text] == pytest.approx(probs, abs=1e-4)
        assert csv[text] == pytest.approx(probs, abs=1e-4)
    assert len({tuple(np.round(p, 4)) for p in forwards.values()}) > 1  # the rows differ: a real check


@pytest.mark.slow
def test_calibrate_balance_saves_label_offsets_that_predict_split_applies(models, tmp_path):
    encoder = tmp_path / "encoder"  # a copy, without any calibration another test saved
    shutil.copytree(models.encoder, encoder, ignore=shutil.ignore_patterns("calibration.*"))
    train = models.root / "data" / "emotion_train.json"
    missing = run_script("calibrate.py", "--model", encoder, "--data", models.validation, "--balance",
                         "--train-data", tmp_path / "none.json")  # fmt: skip
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1 and "none.json" in missing.stderr
    assert not (encoder / "calibration.json").exists()
    result = run_script("calibrate.py", "--model", encoder, "--data", models.validation, "--balance",
                        "--train-data", train)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    saved = json.loads((encoder / "calibration.json").read_text())
    assert len(saved["label_offsets"]) == 6 and 0 <= saved["balance_power"] <= 1
    assert len(saved["balance_tried"]) == 11 and saved["priors_from"] == str(train)
    assert f"label offsets: power {saved['balance_power']:.1f}; macro F1" in result.stdout
    out = tmp_path / "test.jsonl"
    result = run_script("predict_split.py", "--model", encoder, "--data", models.test, "--output", out)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    raw = np.array([[r["probs_uncalibrated"][label] for label in EMOTION.labels] for r in rows])
    probs = np.array([[r["probs"][label] for label in EMOTION.labels] for r in rows])
    assert probs == pytest.approx(scale(raw, saved["temperature"], saved["label_offsets"]), abs=1e-5)


@pytest.mark.slow
def test_calibrate_saves_a_temperature_that_lowers_validation_ece(models, calibrated):
    saved = json.loads((models.encoder / "calibration.json").read_text())
    assert saved["made_by"] == MADE_BY and saved["made_with"] == "scripts/calibrate.py"
    assert saved["rows"] == 60 and saved["fitted_on"] == str(models.validation)
    assert 0 < saved["temperature"] < np.inf
    assert saved["ece_after"] < saved["ece_before"]
    assert saved["log_loss_after"] <= saved["log_loss_before"] + 1e-9
    assert (models.encoder / "calibration.png").stat().st_size > 0
    assert f"temperature {saved['temperature']:.3f}: ECE" in calibrated.stdout


@pytest.mark.slow
def test_the_llm_adapter_labels_a_csv_with_its_saved_recipe(models):
    out = models.root / "llm-run"
    out.mkdir()
    frame = pd.DataFrame({"text": models.texts, "id": [str(i) for i in range(len(models.texts))]})
    frame.to_csv(out / "in.csv", index=False)
    args = ("--model", models.llm, "--input", out / "in.csv", "--output", out / "labelled.jsonl", "--batch-size", "5")
    result = classify(*args)
    assert f"recipe: {models.llm / RECIPE_FILE}\n" in result.stdout and "llm model" in result.stdout
    check_labelled(out / "labelled.jsonl", frame.to_dict(orient="records"))


@pytest.fixture(scope="module")
def ensemble(models, calibrated) -> Path:
    """ensemble.py over the LLM adapter (calibrated by it) and the calibrated encoder."""
    out = models.root / "ensemble"
    result = run_script(
        "ensemble.py", "--members", models.llm, models.encoder, "--output-dir", out, "--data", models.validation
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_the_ensembles_spec_round_trips(models, ensemble):
    spec = json.loads((ensemble / "ensemble.json").read_text())
    assert spec["made_by"] == MADE_BY
    assert [m["path"] for m in spec["members"]] == ["../llm", "../minilm"]
    weights = [m["weight"] for m in spec["members"]]
    assert sum(weights) == pytest.approx(1.0) and weights[0] in {r["weight"] for r in spec["weights_tried"]}
    members = read_ensemble(ensemble)
    resolved = [(models.llm.resolve(), weights[0]), (models.encoder.resolve(), weights[1])]
    assert [(p.resolve(), w) for p, w in members] == resolved
    read = read_model(ensemble, root=REPO_ROOT, default_recipe=REPO_ROOT / "examples" / "smollm2_lora_predict.yaml")
    assert read.kind == "ensemble" and read.task == EMOTION and read.calibration["made_with"] == "scripts/ensemble.py"
    assert [(m.kind, m.path.resolve(), w) for m, w in read.members] == [
        ("llm", models.llm.resolve(), weights[0]),
        ("encoder", models.encoder.resolve(), weights[1]),
    ]
    # each member calibrated: the LLM by ensemble.py, the encoder's own temperature (calibrate.py) kept
    assert [m.calibration["made_with"] for m, _ in read.members] == ["scripts/ensemble.py", "scripts/calibrate.py"]


@pytest.mark.slow
def test_the_ensemble_labels_a_jsonl_file(models, ensemble):
    out = models.root / "ensemble-run"
    out.mkdir()
    given = [{"text": t, "source": "forum"} for t in models.texts]
    write(out / "in.jsonl", "".join(json.dumps(row) + "\n" for row in given))
    result = classify("--model", ensemble, "--input", out / "in.jsonl", "--output", out / "labelled.csv")
    assert "ensemble model" in result.stdout and "llm model" in result.stdout and "encoder model" in result.stdout
    check_labelled(out / "labelled.csv", given)


@pytest.mark.slow
def test_predict_split_and_eval_accuracy_report_the_ensembles_calibration(models, ensemble):
    predictions = models.root / "ensemble-eval" / "predictions.jsonl"
    result = run_script("predict_split.py", "--model", ensemble, "--output", predictions, "--data", models.test)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    records = json.loads(models.test.read_text())
    assert [r["text"] for r in rows] == [r["input"] for r in records] and len(rows) == 30
    for row, record in zip(rows, records, strict=True):
        assert row["label"] == record["output"]
        for key in ("probs", "probs_uncalibrated"):
            assert list(row[key]) == list(EMOTION.labels) and sum(row[key].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["predict"] == max(row["probs"], key=row["probs"].get)
        assert max(row["probs_uncalibrated"], key=row["probs_uncalibrated"].get) == row["predict"]

    report = models.root / "ensemble-eval" / "report"
    result = run_script("eval_accuracy.py", predictions, "--output-dir", report)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("calibration.png", "coverage.png", "confusion_matrix.png"):
        assert (report / name).stat().st_size > 0
    assert "## Calibration and selective prediction" in (report / "report.md").read_text()
    [calibration] = json.loads((report / "metrics.json").read_text())["calibration"]
    assert calibration["ECE before"] is not None and 0 <= calibration["ECE"] <= 1
