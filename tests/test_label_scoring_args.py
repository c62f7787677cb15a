"""The label scorer's scripts refuse bad arguments, recipes and folders with one line, before any model loads.

No model is needed: each case names folders that hold no weights, so reaching the model load would fail
differently (or hang for minutes on a real one); the error reported must be the one the case is about.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import TASK_FILE, run_script
from emotion_sft.task import Task


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A predict recipe over a one-row split, a 'model' folder and an 'adapter' folder (no weights in either)."""
    (tmp_path / "data").mkdir()
    data = tmp_path / "data" / "emotion_test.json"
    data.write_text(json.dumps([{"instruction": "Classify.", "input": "i feel lost", "output": "sadness"}]))
    registry = {"emotion_test": {"file_name": "data/emotion_test.json", "formatting": "alpaca"}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(registry))
    model, adapter = tmp_path / "model", tmp_path / "adapter"
    model.mkdir()
    (model / "config.json").write_text("{")  # not even JSON: loading it must fail
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    recipe = tmp_path / "predict.yaml"
    recipe.write_text(
        f"model_name_or_path: {model}\nadapter_name_or_path: {adapter}\ntemplate: smollm2\n"
        f"dataset_dir: {tmp_path}\neval_dataset: emotion_test\n"
    )
    return {"root": tmp_path, "data": data, "model": model, "adapter": adapter, "recipe": recipe}


def predict(setup: dict[str, Path], *args: str | Path):
    output = setup["root"] / "out" / "predictions.jsonl"
    return run_script(
        "predict_label_scores.py", "--recipe", setup["recipe"], "--data", setup["data"], "--output", output, *args
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-size", "-1"], "argument --batch-size: '-1' is not a positive integer"),
        (["--batch-size", "0"], "argument --batch-size: '0' is not a positive integer"),
        (["--limit", "-1990"], "argument --limit: '-1990' is not a positive integer"),
        (["--limit", "0"], "argument --limit: '0' is not a positive integer"),
        (["--output", "{root}"], "argument --output: {root}: is a folder; give a file path"),
        (["--output", "{data}/out.jsonl"], "argument --output: {data}/out.jsonl: {data} is a file, not a folder"),
    ],
    ids=["batch size -1", "batch size 0", "limit -1990", "limit 0", "output is a folder", "output under a file"],
)
def test_bad_arguments_are_refused_before_loading(setup, args, expected):
    args = [arg.format(**setup) for arg in args]
    start = time.perf_counter()
    result = predict(setup, "--model", setup["root"] / "no-such-model", *args)
    assert result.returncode == 2 and expected.format(**setup) in result.stderr
    assert "Traceback" not in result.stderr and time.perf_counter() - start < 60
    assert not (setup["root"] / "out").exists()


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (None, "{recipe}: No such file or directory"),
        ("template: [smollm2\n", "{recipe}: line 2: not valid YAML"),
        ("- a list\n", "{recipe}: expected a YAML mapping"),
        ("template: smollm2\n", "{recipe}: no model_name_or_path"),
        ("model_name_or_path: {model}\n", "{recipe}: no template"),
    ],
    ids=["missing", "bad YAML", "not a mapping", "no model", "no template"],
)
def test_bad_recipes_are_one_line_errors(setup, recipe, expected):
    if recipe is None:
        setup["recipe"].unlink()
    else:
        setup["recipe"].write_text(recipe.format(**setup))
    result = predict(setup)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(f"error: {expected.format(**setup)}")


def test_folders_that_are_not_models_or_adapters_are_refused(setup):
    empty = setup["root"] / "empty"
    empty.mkdir()
    result = predict(setup, "--model", empty)
    assert result.returncode == 1 and result.stderr == f"error: {empty}: not a model folder (no config.json)\n"
    result = predict(setup, "--adapter", empty)
    assert (
        result.returncode == 1
        and result.stderr == f"error: {empty}: not a LoRA adapter folder (no adapter_config.json)\n"
    )
    result = predict(setup, "--adapter", setup["root"] / "nope")
    assert result.returncode == 1 and "nope: no such LoRA adapter folder" in result.stderr


def test_data_and_template_are_checked_before_loading(setup):
    setup["data"].write_text("[]")
    result = predict(setup)
    assert result.returncode == 1 and result.stderr == f"error: {setup['data']}: no rows to score\n"
    setup["data"].write_text(json.dumps([{"instruction": "", "input": "x", "output": "joy"}]))
    setup["recipe"].write_text(setup["recipe"].read_text().replace("smollm2", "no-such-template"))
    result = predict(setup)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"error: {setup['recipe']}: template 'no-such-template' is not one of LLaMA-Factory's templates"
        in result.stderr
    )


def test_a_model_folder_that_cannot_load_is_a_one_line_error(setup):
    result = predict(setup)  # config.json is not JSON
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {setup['model']}: cannot load it (" in result.stderr


def test_an_explicit_task_with_other_labels_than_the_adapters_is_refused(setup):
    tickets = Task(name="tickets", labels=("billing", "tech_support", "not_spam"), instruction="Route it.")
    saved = tickets.save(setup["adapter"])
    result = predict(setup, "--task", TASK_FILE)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {saved}: this model was trained on the labels billing, tech_support,")
    # without --task the adapter's own task is taken and the run goes on to load the (broken) model
    result = predict(setup)
    assert result.returncode == 1 and f"error: {setup['model']}: cannot load it (" in result.stderr
    assert "task: tickets (3 labels: billing, tech_support, not_spam)" in result.stdout


@pytest.fixture
def curve_run(setup) -> Path:
    """A training run folder with one checkpoint adapter and the trainer's arguments (no weights)."""
    import torch

    run = setup["root"] / "run"
    (run / "checkpoint-10").mkdir(parents=True)
    (run / "checkpoint-10" / "adapter_config.json").write_text("{}")
    args = SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=2, world_size=1)
    torch.save(args, run / "training_args.bin")
    return run


def curve(setup: dict[str, Path], run: Path, *args: str | Path):
    return run_script("learning_curve.py", run, "--recipe", setup["recipe"], "--data", setup["data"], *args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--limit", "-5"], "argument --limit: '-5' is not a positive integer"),
        (["--limit", "0"], "argument --limit: '0' is not a positive integer"),
        (["--output-dir", "{recipe}"], "argument --output-dir: {recipe}: is a file; give a folder path"),
    ],
    ids=["limit -5", "limit 0", "output dir is a file"],
)
def test_learning_curve_refuses_bad_arguments(setup, curve_run, args, expected):
    result = curve(setup, curve_run, "--model", setup["root"] / "no-such-model", *[a.format(**setup) for a in args])
    assert result.returncode == 2 and expected.format(**setup) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (None, "{recipe}: No such file or directory"),
        ("model_name_or_path: [\n", "{recipe}: line 2: not valid YAML"),
        ("template: smollm2\n", "{recipe}: no model_name_or_path"),
        ("model_name_or_path: {model}\n", "{recipe}: no template"),
    ],
    ids=["missing", "bad YAML", "no model", "no template"],
)
def test_learning_curve_refuses_bad_recipes(setup, curve_run, recipe, expected):
    if recipe is None:
        setup["recipe"].unlink()
    else:
        setup["recipe"].write_text(recipe.format(**setup))
    result = curve(setup, curve_run)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {expected.format(**setup)}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_learning_curve_refuses_bad_runs_and_folders(setup, curve_run):
    (curve_run / "eval").write_text("a file where the default output folder goes")
    result = curve(setup, curve_run)
    assert (
        result.returncode == 1
        and result.stderr == f"error: {curve_run / 'eval'} is a file; give --output-dir a folder\n"
    )
    (curve_run / "eval").unlink()
    empty = setup["root"] / "empty"
    empty.mkdir()
    result = curve(setup, curve_run, "--model", empty)
    assert result.returncode == 1 and result.stderr == f"error: {empty}: not a model folder (no config.json)\n"
    (curve_run / "training_args.bin").write_bytes(b"not a pickle")
    result = curve(setup, curve_run)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {curve_run / 'training_args.bin'}: not the training arguments a Trainer")
    result = curve(setup, empty)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {empty}: no checkpoint-N adapters")


@pytest.mark.parametrize("batch_size", [0, -1])
def test_the_library_refuses_a_batch_size_below_one(batch_size):
    from emotion_sft.encoder import EncoderClassifier
    from emotion_sft.label_scoring import LabelScorer

    # checked before the instance is used: no model needed
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        LabelScorer.score(None, ["i feel lost"], batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        EncoderClassifier.predict_proba(None, ["i feel lost"], batch_size=batch_size)
