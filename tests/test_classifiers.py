"""The shared classifier shape without a model: temperature scaling, ensembles, saved specs, calibration metrics.

Everything here runs on synthetic probabilities or on folders that only look like models (nothing loads);
tests/test_classify.py runs the same code on the tiny LLM and the real bundled encoder.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import f1_score

from conftest import EMOTION
from emotion_sft.classifiers import (
    ENSEMBLE_FILE,
    MADE_BY,
    RECIPE_FILE,
    Ensemble,
    ModelSpec,
    TemperatureScaled,
    calibrate,
    check_replaceable,
    choose_balance,
    choose_weight,
    combine,
    fit_temperature,
    labelled_split,
    read_calibration,
    read_ensemble,
    read_model,
    save_calibration,
    save_ensemble,
    scale,
)
from emotion_sft.cli import UserError
from emotion_sft.fileio import DataError
from emotion_sft.metrics import accuracy_at_coverage, confidence_for_coverage, expected_calibration_error
from emotion_sft.predictions import probability_rows, read_predictions
from emotion_sft.task import Task

TICKETS = Task(name="tickets", labels=("billing", "outage", "account"), instruction="Route this ticket.")


def synthetic(n: int = 4000, k: int = 6, sharpen: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose gold label is drawn from softmax(logits) (so those probabilities are calibrated), returned
    as softmax(sharpen * logits): sharpen > 1 is overconfident, sharpen < 1 underconfident."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    true = softmax(logits, axis=1)
    gold = np.minimum((true.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return softmax(sharpen * logits, axis=1), gold


# ---- metrics ---------------------------------------------------------------------------------------------------
def test_ece_by_hand():
    # 15 bins of width 1/15: 0.95 in bin 15, 0.55 in bin 9, 0.25 in bin 4
    correct = [True, False, True, True]
    confidence = [0.95, 0.95, 0.55, 0.25]
    # (2/4)|0.5 - 0.95| + (1/4)|1 - 0.55| + (1/4)|1 - 0.25|
    assert expected_calibration_error(correct, confidence) == pytest.approx(0.225 + 0.1125 + 0.1875)
    # 8 of 10 right at 0.8: calibrated; every row right at confidence 1: calibrated
    assert expected_calibration_error([True] * 8 + [False] * 2, [0.8] * 10) == pytest.approx(0.0)
    assert expected_calibration_error([True] * 3, [1.0] * 3) == pytest.approx(0.0)
    # confidence 0 lands in the first bin (not an index error); one bin: the gap of the means
    assert expected_calibration_error([False, True], [0.0, 0.01]) == pytest.approx(0.5 - 0.005)
    assert expected_calibration_error([True, False], [0.9, 0.7], n_bins=1) == pytest.approx(0.3)


def test_ece_agrees_with_scikit_learns_reliability_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.2, 1.0, 500)
    correct = rng.random(500) < confidence**2
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=15, strategy="uniform")
    counts = np.histogram(confidence, bins=np.linspace(0, 1, 16))[0]
    expected = np.sum(counts[counts > 0] * np.abs(accuracy - mean_confidence)) / len(confidence)
    assert expected_calibration_error(correct, confidence) == pytest.approx(expected)


def test_accuracy_at_coverage_keeps_the_most_confident_rows_first():
    coverage, accuracy = accuracy_at_coverage([True, False, True, False], [0.9, 0.8, 0.7, 0.95])
    # ranked: 0.95 (wrong), 0.9 (right), 0.8 (wrong), 0.7 (right)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert accuracy.tolist() == pytest.approx([0.0, 0.5, 1 / 3, 0.5])
    # ties keep the given row order
    assert accuracy_at_coverage([False, True], [0.5, 0.5])[1].tolist() == [0.0, 0.5]


def test_confidence_for_coverage_is_the_kth_highest_confidence():
    confidence = [0.9, 0.8, 0.7, 0.95]
    assert confidence_for_coverage(confidence, 1.0) == 0.7
    assert confidence_for_coverage(confidence, 0.5) == 0.9
    assert confidence_for_coverage(confidence, 0.6) == 0.8  # ceil(2.4) = 3 rows
    assert confidence_for_coverage(confidence, 0.1) == confidence_for_coverage(confidence, 0.0) == 0.95


# ---- temperature scaling ---------------------------------------------------------------------------------------
def test_scale_softens_or_sharpens_and_keeps_every_prediction():
    probs = np.array([[0.8, 0.2], [0.3, 0.7]])
    assert scale(probs, 1.0) == pytest.approx(probs)
    assert scale(probs, 2.0)[0] == pytest.approx([2 / 3, 1 / 3])  # sqrt(0.8) : sqrt(0.2) = 2 : 1
    assert scale(probs, 0.5)[0] == pytest.approx([16 / 17, 1 / 17])
    many, _ = synthetic(200)
    for temperature in (0.3, 1.7, 5.0):
        scaled = scale(many, temperature)
        assert scaled.sum(axis=1) == pytest.approx(np.ones(200))
        assert (scaled.argmax(axis=1) == many.argmax(axis=1)).all()
    assert (scale(many, 3.0).max(axis=1) < many.max(axis=1)).all()


def test_calibrated_probabilities_keep_a_temperature_near_one():
    probs, gold = synthetic()
    assert fit_temperature(probs, gold) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("sharpen", [3.0, 0.5])
def test_the_fitted_temperature_undoes_over_and_underconfidence(sharpen):
    probs, gold = synthetic(sharpen=sharpen)
    assert fit_temperature(probs, gold) == pytest.approx(sharpen, rel=0.1)


def test_calibration_lowers_ece_and_log_loss_of_overconfident_probabilities():
    probs, gold = synthetic(sharpen=3.0)
    figures, after = calibrate(probs, gold)
    assert figures["temperature"] > 2
    assert figures["rows"] == len(gold)
    assert figures["accuracy"] == pytest.approx((probs.argmax(axis=1) == gold).mean())
    assert figures["ece_before"] > 0.1 and figures["ece_after"] < figures["ece_before"] / 3
    assert figures["log_loss_after"] < figures["log_loss_before"] - 0.1
    assert after == pytest.approx(scale(probs, figures["temperature"]))
    assert (after.argmax(axis=1) == probs.argmax(axis=1)).all()  # no prediction changes
    assert json.dumps(figures)  # plain numbers: calibration.json can hold them


def test_the_temperature_reads_gold_as_columns_in_the_tasks_label_order(tmp_path):
    """The emotion labels are not in alphabetical order: gold must index the probabilities' columns, not the
    sorted label names (the order scikit-learn would give string labels)."""
    labels = EMOTION.labels
    assert list(labels) != sorted(labels)
    probs, gold = synthetic()  # calibrated, columns in the task's order
    records = [{"instruction": "x", "input": f"text {i}", "output": labels[g]} for i, g in enumerate(gold)]
    (tmp_path / "validation.json").write_text(json.dumps(records))
    texts, columns = labelled_split(tmp_path / "validation.json", EMOTION, every_label=True)
    assert texts[:2] == ["text 0", "text 1"] and (columns == gold).all()
    right = fit_temperature(probs, columns)
    wrong = fit_temperature(probs, [sorted(labels).index(labels[g]) for g in gold])
    assert right == pytest.approx(1.0, abs=0.1)
    assert wrong > 3 * right  # the sorted order would wreck the calibration
    # the columns may come in any order, so long as gold follows them
    order = np.random.default_rng(2).permutation(len(labels))
    assert fit_temperature(probs[:, order], np.argsort(order)[gold]) == pytest.approx(right, rel=1e-4)


def test_a_label_column_without_rows_is_refused():
    probs, gold = synthetic(300)
    with pytest.raises(ValueError, match=r"label columns \[5\] never occur"):
        fit_temperature(probs, np.where(gold == 5, 0, gold))


def test_a_label_with_a_single_calibration_row_still_gets_a_temperature():
    probs, gold = synthetic(300, sharpen=2.0)
    gold = np.where(gold == 5, 0, gold)
    gold[0] = 5  # a small validation split of a custom task: one row of its rarest label
    temperature = fit_temperature(probs, gold)
    assert 0 < temperature < np.inf


def test_labelled_split_names_the_file_and_record_of_a_bad_label(tmp_path):
    path = tmp_path / "validation.json"
    path.write_text(json.dumps([{"instruction": "x", "input": "a", "output": "joy"}]))
    with pytest.raises(DataError, match="no rows labelled sadness, love, anger, fear, surprise"):
        labelled_split(path, EMOTION, every_label=True)
    assert labelled_split(path, EMOTION)[1].tolist() == [1]  # joy is the second label
    path.write_text(json.dumps([{"instruction": "x", "input": "a", "output": "joy"}, {"input": "b", "output": "meh"}]))
    with pytest.raises(DataError, match=r"validation.json: record 2: "):
        labelled_split(path, EMOTION)


# ---- ensembles and the classifier shape ------------------------------------------------------------------------
@dataclass
class Fixed:
    """A classifier that answers the same probabilities for any texts (the first len(texts) rows)."""

    probs: np.ndarray
    classes_: tuple[str, ...] = TICKETS.labels

    def predict_proba(self, texts, progress=False):
        return self.probs[: len(texts)]


A = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
B = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])


def test_an_ensemble_averages_its_members_with_their_weights():
    ensemble = Ensemble([Fixed(A), Fixed(B)], [3.0, 1.0])
    assert ensemble.classes_ == TICKETS.labels
    assert ensemble.predict_proba(["x", "y"]) == pytest.approx(0.75 * A + 0.25 * B)
    assert ensemble.predict(["x", "y"]).tolist() == ["billing", "account"]
    assert Ensemble([Fixed(A), Fixed(B)], [0.0, 1.0]).predict(["x", "y"]).tolist() == ["outage", "account"]
    assert combine([A, B], [1, 1]) == pytest.approx((A + B) / 2)
    with pytest.raises(ValueError, match="share their labels"):
        Ensemble([Fixed(A), Fixed(A, ("outage", "billing", "account"))], [1, 1])
    with pytest.raises(ValueError, match="one weight per member"):
        Ensemble([Fixed(A), Fixed(B)], [1.0])


def test_a_temperature_changes_the_confidence_not_the_label():
    scaled = TemperatureScaled(Fixed(A), 2.0)
    assert scaled.classes_ == TICKETS.labels
    assert scaled.predict_proba(["x", "y"]) == pytest.approx(scale(A, 2.0))
    assert scaled.predict(["x", "y"]).tolist() == ["billing", "account"]  # as A's own argmax
    spec = ModelSpec(Path("m"), "encoder", TICKETS, "", lambda: Fixed(A), {"temperature": 2.0})
    assert isinstance(spec.load(), TemperatureScaled) and spec.load().temperature == 2.0
    assert isinstance(spec.load(calibrated=False), Fixed)
    assert "temperature 2.000" in spec.describe()


def test_float32_softmax_rows_calibrate_and_ensemble_without_a_warning():
    """A model's float32 softmax sums to one within ~1e-7 only, which scikit-learn's log_loss warns about."""
    probs, gold = synthetic(n=2000)
    probs32 = softmax(np.log(probs + 1e-12).astype(np.float32) * np.float32(1.7), axis=1).astype(np.float32)
    assert np.abs(probs32.astype(np.float64).sum(axis=1) - 1).max() > 1e-8  # the case, not a clean one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures, after = calibrate(probs32, gold)
        table = choose_weight(probs32, probs, gold)
    assert figures["log_loss_after"] <= figures["log_loss_before"]
    assert np.allclose(after.sum(axis=1), 1) and len(table) == 21


def test_the_weight_is_chosen_by_log_loss():
    gold = np.array([0, 1, 2, 0])
    good = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.8, 0.1, 0.1]])
    bad = np.roll(good, 1, axis=1)  # always wrong
    table = choose_weight(good, bad, gold)
    assert len(table) == 21 and {r["weight"] for r in table} == {round(i / 20, 6) for i in range(21)}
    assert table[0]["weight"] == 1.0 and table[0]["accuracy"] == 1.0  # all weight on the good model
    assert table[-1]["weight"] == 0.0 and table[-1]["accuracy"] == 0.0
    assert choose_weight(bad, good, gold)[0]["weight"] == 0.0
    assert [r["log_loss"] for r in table] == sorted(r["log_loss"] for r in table)
    # two half-right models: the average beats either one in log loss, though not in accuracy
    sure = np.array([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01], [0.98, 0.01, 0.01], [0.98, 0.01, 0.01]])
    other = np.array([[0.5, 0.25, 0.25], [0.1, 0.45, 0.45], [0.25, 0.25, 0.5], [0.25, 0.5, 0.25]])
    assert 0 < choose_weight(sure, other, gold)[0]["weight"] < 1


def test_label_offsets_for_macro_f1_move_predictions_towards_a_rare_label_the_model_neglects():
    rng = np.random.default_rng(1)
    gold = rng.choice(3, size=3000, p=[0.6, 0.3, 0.1])
    logits = rng.normal(size=(3000, 3)) + 2.0 * np.eye(3)[gold]
    probs = softmax(logits - [0.0, 0.0, 1.5], axis=1)  # the rare label under-predicted
    table = choose_balance(probs, gold, [0.6, 0.3, 0.1])
    assert sorted(r["power"] for r in table) == [round(i / 10, 6) for i in range(11)]
    none = next(r for r in table if r["power"] == 0.0)
    assert none["offsets"] == [0.0, 0.0, 0.0]
    assert none["macro_f1"] == pytest.approx(f1_score(gold, probs.argmax(axis=1), average="macro"))
    best = table[0]
    assert best["power"] > 0 and best["macro_f1"] > none["macro_f1"] + 0.02
    assert best["offsets"] == pytest.approx(-best["power"] * np.log([0.6, 0.3, 0.1]), abs=1e-6)
    shifted = scale(probs, 1.0, best["offsets"])
    assert f1_score(gold, shifted.argmax(axis=1), average="macro") == pytest.approx(best["macro_f1"])
    assert (shifted.argmax(axis=1) == 2).sum() > (probs.argmax(axis=1) == 2).sum()
    # a model that already predicts every label at its rate keeps power 0 (ties go to the smaller power)
    assert choose_balance(np.eye(3)[gold], gold, [0.6, 0.3, 0.1])[0]["power"] == 0.0


def test_saved_offsets_are_applied_after_the_temperature_but_not_inside_an_ensemble(tmp_path):
    calibration = {"temperature": 2.0, "label_offsets": [0.0, 0.0, 3.0], "balance_power": 0.5}
    spec = ModelSpec(Path("m"), "encoder", TICKETS, "", lambda: Fixed(A), calibration)
    assert spec.load().predict_proba(["x", "y"]) == pytest.approx(scale(A, 2.0, [0.0, 0.0, 3.0]))
    assert spec.load().predict(["x", "y"]).tolist() == ["account", "account"]
    assert spec.load(balanced=False).predict_proba(["x", "y"]) == pytest.approx(scale(A, 2.0))
    assert "label offsets for macro F1 (power 0.5)" in spec.describe()
    with pytest.raises(DataError, match="label_offsets has 2 numbers, not one per label of task tickets"):
        ModelSpec(Path("m"), "encoder", TICKETS, "", lambda: Fixed(A), {**calibration, "label_offsets": [0, 1]})
    # in a saved ensemble, a member is averaged with its temperature alone
    members = [fake_encoder(tmp_path / "a", TICKETS), fake_encoder(tmp_path / "b", TICKETS)]
    save_calibration(members[0], calibration)
    save_ensemble(tmp_path / "ens", members, [1.0, 0.0])
    ensemble = read(tmp_path / "ens")
    assert ensemble.members[0][0].offsets == [0.0, 0.0, 3.0]
    ensemble.members[0][0].loader = lambda: Fixed(A)  # the folder only looks like an encoder: answer for it
    assert ensemble.load(calibrated=False).predict_proba(["x", "y"]) == pytest.approx(scale(A, 2.0))
    for bad in ([0, "1", 2], "0 0 3", [0, float("nan"), 1], [0, True, 1], [0, 10**400, 1]):
        (members[0] / "calibration.json").write_text(json.dumps({**calibration, "label_offsets": bad}))
        with pytest.raises(DataError, match="label_offsets must be a list of numbers"):
            read(members[0])


# ---- saved files -----------------------------------------------------------------------------------------------
def fake_encoder(path: Path, task: Task = EMOTION) -> Path:
    """A folder that reads as an encoder adapter (nothing in it could load)."""
    path.mkdir(parents=True)
    (path / "encoder_config.json").write_text(json.dumps({"model": str(path / "no-model"), "max_length": 32}))
    (path / "adapter_config.json").write_text("{}")
    task.save(path)
    return path


def read(path: Path, **kwargs) -> ModelSpec:
    return read_model(path, root=path.parent, default_recipe=path.parent / "no-recipe.yaml", **kwargs)


def test_calibration_json_is_written_with_its_marker_and_foreign_files_are_kept(tmp_path):
    model = fake_encoder(tmp_path / "enc")
    assert read_calibration(model) is None and read(model).calibration is None
    path = save_calibration(model, {"temperature": 1.5, "ece_before": 0.2})
    saved = json.loads(path.read_text())
    assert saved == {
        "made_by": MADE_BY,
        "temperature": 1.5,
        "ece_before": 0.2,
        "weights_sha256": saved["weights_sha256"],
    }
    assert read(model).calibration["temperature"] == 1.5
    # weights changed since (retrained): the old temperature is refused, not applied
    (model / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(UserError, match="calibration.json: fitted on other weights than .* holds now"):
        read(model)
    save_calibration(model, {"temperature": 2.5})  # ours: replaced
    assert read_calibration(model)["temperature"] == 2.5
    path.write_text(json.dumps({"temperature": 0.7}))  # someone else's
    with pytest.raises(UserError, match="calibration.json: exists and was not written by emotion-sft"):
        save_calibration(model, {"temperature": 3.0})
    assert json.loads(path.read_text()) == {"temperature": 0.7}
    assert read_calibration(model)["temperature"] == 0.7  # still read and applied
    check_replaceable(tmp_path / "absent.json")
    for bad in ({"temperature": -1}, {"temperature": "2"}, {"temperature": 0}, {"t": 1}):
        path.write_text(json.dumps(bad))
        with pytest.raises(DataError, match="calibration.json"):
            read(model)
    path.write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_calibration(model)


def test_an_ensembles_spec_round_trips_and_moves_with_its_folder(tmp_path):
    tree = tmp_path / "saves"
    members = [fake_encoder(tree / "a"), fake_encoder(tree / "b" / "enc")]
    path = save_ensemble(tree / "ens", members, [0.25, 0.75], {"chosen_on": "validation"})
    spec = json.loads(path.read_text())
    assert spec["made_by"] == MADE_BY and spec["chosen_on"] == "validation"
    assert [m["path"] for m in spec["members"]] == ["../a", "../b/enc"]  # relative: the tree can move
    read_back = read_ensemble(tree / "ens")
    assert [(p.resolve(), w) for p, w in read_back] == [(members[0].resolve(), 0.25), (members[1].resolve(), 0.75)]

    moved = shutil.move(tree, tmp_path / "moved")
    model = read(Path(moved) / "ens")
    assert model.kind == "ensemble" and model.task == EMOTION
    assert [(m.kind, m.path.resolve(), w) for m, w in model.members] == [
        ("encoder", (Path(moved) / "a").resolve(), 0.25),
        ("encoder", (Path(moved) / "b" / "enc").resolve(), 0.75),
    ]
    assert "member (weight 0.25): encoder model" in model.describe()
    # the weight was chosen on the members' temperatures then: a member recalibrated since is refused
    calibrated = [fake_encoder(tmp_path / "c1"), fake_encoder(tmp_path / "c2")]
    save_calibration(calibrated[0], {"temperature": 1.5})
    save_ensemble(tmp_path / "ens2", calibrated, [0.5, 0.5])
    assert json.loads((tmp_path / "ens2" / "ensemble.json").read_text())["members"][0]["temperature"] == 1.5
    assert read(tmp_path / "ens2").members[0][0].calibration["temperature"] == 1.5
    save_calibration(calibrated[0], {"temperature": 2.0})
    with pytest.raises(UserError, match="c1: its temperature changed since the ensemble .* was made"):
        read(tmp_path / "ens2")
    save_ensemble(Path(moved) / "ens", members[:1] + members[:1], [1, 1])  # ours: replaced


def test_broken_ensemble_specs_are_refused_naming_the_file(tmp_path):
    a, b = fake_encoder(tmp_path / "a"), fake_encoder(tmp_path / "b")
    ens = tmp_path / "ens"
    ens.mkdir()
    spec = ens / ENSEMBLE_FILE
    cases = {
        "at least two": {"members": [{"path": "../a", "weight": 1}]},
        "member 2: expected": {"members": [{"path": "../a", "weight": 1}, {"path": "../b", "weight": -1}]},
        "sum to 0": {"members": [{"path": "../a", "weight": 0}, {"path": "../b", "weight": 0}]},
        "expected a JSON object with members": {"paths": ["../a", "../b"]},
        "cannot contain itself": {"members": [{"path": ".", "weight": 1}, {"path": "../a", "weight": 1}]},
    }
    for message, content in cases.items():
        spec.write_text(json.dumps(content))
        with pytest.raises(DataError, match=message) as caught:
            read(ens)
        assert str(spec) in str(caught.value)
    fake_encoder(tmp_path / "t", TICKETS)
    spec.write_text(json.dumps({"members": [{"path": "../a", "weight": 1}, {"path": "../t", "weight": 1}]}))
    with pytest.raises(DataError, match="different labels"):
        read(ens)
    spec.write_text(json.dumps({"members": [{"path": "../a", "weight": 1}, {"path": "../b", "weight": 1}]}))
    with pytest.raises(UserError, match="exists and was not written by emotion-sft"):
        save_ensemble(ens, [a, b], [1, 1])
    assert read(ens).kind == "ensemble"


def test_a_folder_that_is_no_model_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        read(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: not a trained model"):
        read(tmp_path / "empty")
    fake_encoder(tmp_path / "enc", TICKETS)
    with pytest.raises(DataError, match="trained on the labels billing, outage, account"):
        read(tmp_path / "enc", task=EMOTION)
    assert read(tmp_path / "enc", default_task=EMOTION).task == TICKETS


def emotion_registry(root: Path) -> None:
    columns = {"prompt": "instruction", "query": "input", "response": "output"}
    entry = {"file_name": "data/emotion_test.json", "formatting": "alpaca", "columns": columns}
    text_only = {**entry, "columns": {**columns, "prompt": None}}
    (root / "dataset_info.json").write_text(json.dumps({"emotion_test": entry, "emotion_test_text": text_only}))


def write_recipe(path: Path, model: Path, dataset_dir: Path, eval_dataset: str) -> Path:
    settings = {"model_name_or_path": model, "template": "smollm2", "default_system": '""'}
    settings |= {"dataset_dir": dataset_dir, "eval_dataset": eval_dataset}
    path.write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    return path


def test_an_llm_adapter_takes_its_saved_recipe_else_the_given_else_the_default(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    emotion_registry(tmp_path)
    default = write_recipe(tmp_path / "default.yaml", tmp_path / "other-base", tmp_path, "emotion_test")

    def spec(**kwargs) -> ModelSpec:
        return read_model(adapter, root=tmp_path, default_recipe=default, default_task=EMOTION, **kwargs)

    with pytest.raises(UserError, match="other-base: no such model folder"):
        spec()  # neither saved nor given: the default recipe
    saved = write_recipe(adapter / RECIPE_FILE, tmp_path / "base", tmp_path, "emotion_test_text")
    model = spec()
    assert model.kind == "llm" and model.task == EMOTION and model.calibration is None
    assert f"recipe: {saved}\n" in model.details and "no training recipe saved" not in model.details
    assert f"model: {tmp_path / 'base'}\nadapter: {adapter}\n" in model.details
    assert "instruction: no (the text alone)" in model.details
    given = write_recipe(tmp_path / "given.yaml", tmp_path / "base", tmp_path, "emotion_test")
    model = spec(recipe=given)
    assert f"recipe: {given} (no training recipe saved beside the adapter)" in model.details
    assert "instruction: yes" in model.details
    TICKETS.save(adapter)
    assert spec().task == TICKETS  # the task saved beside the adapter


def test_probabilities_in_a_predictions_file_are_checked_and_read_in_label_order(tmp_path):
    labels = EMOTION.labels
    probs = softmax(np.arange(12.0).reshape(2, 6), axis=1)
    rows = probability_rows(probs, labels)
    assert list(rows[0]) == list(labels) and sum(rows[1].values()) == pytest.approx(1.0, abs=1e-5)
    shuffled = [dict(reversed(list(row.items()))) for row in rows]  # key order does not matter
    lines = [{"text": "t", "predict": "surprise", "label": "joy", "probs": row} for row in shuffled]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    frame = read_predictions(path, EMOTION)
    assert np.stack(frame["probs"].to_numpy()) == pytest.approx(probs, abs=1e-6)  # written to 6 decimals
    assert frame["probs_uncalibrated"].isna().all()
    lines[1]["probs_uncalibrated"] = {**rows[1], "joy": rows[1]["joy"] + 0.5}
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(DataError, match=r"p.jsonl: line 2: probabilities must lie in \[0, 1\] and sum to 1"):
        read_predictions(path, EMOTION)
