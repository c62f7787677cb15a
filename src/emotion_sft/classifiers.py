"""Every trained model as one classifier shape, with probabilities calibrated on the validation split.

The LLM label scorer, the encoder and their ensemble share scikit-learn's shape: `classes_` (the task's
labels, in order), `predict_proba(texts)` -> an (n, k) array, `predict(texts)` -> n labels. `read_model(DIR)`
recognises what a folder holds and checks it without loading anything; `.load()` then loads it:

- an LLM LoRA adapter (`adapter_config.json`): the base model, template, system prompt and prompt kind come
  from the recipe saved beside it by `make train` (`training_recipe.yaml`), else from a default predict recipe;
- an encoder adapter (`encoder_config.json`, from `scripts/train_encoder_baseline.py`);
- an ensemble (`ensemble.json`, from `scripts/ensemble.py`): a weighted average of its members' calibrated
  probabilities.

A temperature fitted on the validation split (`calibration.json`, from `scripts/calibrate.py`) is applied
when present: softmax(log p / T), which keeps every prediction and changes only how sure it says it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.special import softmax

from .cli import UserError
from .fileio import DataError, dumps_json, read_text, write_text_atomic
from .task import Task, task_for_model

CALIBRATION_FILE = "calibration.json"
ENSEMBLE_FILE = "ensemble.json"
OFFSETS = "label_offsets"  # calibration.json's per-label offsets (calibrate.py --balance)
RECIPE_FILE = "training_recipe.yaml"  # the training recipe's prompt settings, saved beside an LLM adapter
MADE_BY = "emotion-sft"  # marks the JSON files written here, which a re-run may replace
_EPS = 1e-12  # as scikit-learn's temperature scaling: log(p + eps)


class Classifier(Protocol):
    classes_: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def predict(model: Classifier, texts: Sequence[str], progress: bool = False) -> np.ndarray:
    """The most probable label of each text."""
    return np.asarray(model.classes_)[model.predict_proba(texts, progress=progress).argmax(axis=1)]


# ---- calibration ---------------------------------------------------------------------------------------------
def scale(probs: np.ndarray, temperature: float, offsets: Sequence[float] | None = None) -> np.ndarray:
    """Probabilities under a temperature: softmax(log(p) / T). T > 1 softens, T < 1 sharpens; argmax is kept.
    `offsets` (one per label, added to the scaled log-probabilities) shift the decision towards some labels."""
    logits = np.log(np.asarray(probs, dtype=np.float64) + _EPS) / temperature
    return softmax(logits if offsets is None else logits + np.asarray(offsets, dtype=np.float64), axis=1)


def choose_balance(probs: np.ndarray, gold: Sequence[int], priors: Sequence[float], steps: int = 10) -> list[dict]:
    """Label offsets for macro F1: the probabilities divided by the labels' training frequencies raised to a power
    a = 0, 1/steps, ..., 1 (offsets -a * log(prior); 0 leaves the model as it is, 1 gives every label the same
    prior). Per power: its offsets, accuracy and macro F1 on the labelled rows, best first: the highest macro
    F1 (ties: the higher accuracy, then the smaller power). One knob, not one per label: a validation split has
    a few dozen rows of its rarest label, too few to fit six offsets on."""
    from sklearn.metrics import accuracy_score, f1_score

    gold = np.asarray(gold)
    log_priors = np.log(np.asarray(priors, dtype=np.float64))
    rows = []
    for power in np.linspace(0.0, 1.0, steps + 1):
        offsets = -power * log_priors
        predicted = (np.log(np.asarray(probs, dtype=np.float64) + _EPS) + offsets).argmax(axis=1)
        rows.append(
            {
                "power": round(float(power), 6),
                "offsets": [round(float(o), 6) for o in offsets],
                "accuracy": float(accuracy_score(gold, predicted)),
                "macro_f1": float(f1_score(gold, predicted, average="macro", labels=range(len(log_priors)))),
            }
        )
    return sorted(rows, key=lambda r: (-r["macro_f1"], -r["accuracy"], r["power"]))


def fit_temperature(probs: np.ndarray, gold: Sequence[int]) -> float:
    """The temperature that minimises the log loss of `probs` (n, k) against `gold` (column indices), fitted by
    scikit-learn's `CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")`.

    `clf` is the model's own probabilities, computed once: the model is frozen, so calibration only reads its
    outputs, and the LLM does not score the validation split again for each fold."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    probs = np.asarray(probs, dtype=np.float64)
    gold = np.asarray(gold)
    missing = sorted(set(range(probs.shape[1])) - set(gold.tolist()))
    if missing:
        raise ValueError(f"label columns {missing} never occur in the calibration rows")
    # Labels as column indices, not names: scikit-learn sorts string labels, and the task's order is not sorted.
    # A frozen model is not refitted per fold, so one "fold" holding every row is enough; a splitter with
    # n_splits (KFold(2)) would make scikit-learn refuse a label with a single calibration row.
    frozen = FrozenEstimator(_given().fit(probs, np.arange(probs.shape[1])))
    every_row = [(np.arange(len(gold)), np.arange(len(gold)))]
    calibrated = CalibratedClassifierCV(frozen, method="temperature", cv=every_row).fit(probs, gold)
    return float(1.0 / calibrated.calibrated_classifiers_[0].calibrators[0].beta_)


def _given():
    """A fitted classifier whose input is its output: rows of probabilities already computed."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Given(ClassifierMixin, BaseEstimator):
        def fit(self, probs: np.ndarray, classes: np.ndarray):
            self.classes_ = classes
            return self

        def predict_proba(self, probs: np.ndarray) -> np.ndarray:
            return np.asarray(probs)

        def predict(self, probs: np.ndarray) -> np.ndarray:
            return self.classes_[np.asarray(probs).argmax(axis=1)]

    return Given()


@dataclass
class TemperatureScaled:
    """A classifier whose probabilities pass through a fitted temperature."""

    model: Classifier
    temperature: float
    offsets: Sequence[float] | None = None  # per label (calibrate.py --balance), after the temperature

    @property
    def classes_(self) -> tuple[str, ...]:
        return tuple(self.model.classes_)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return scale(self.model.predict_proba(texts, progress=progress), self.temperature, self.offsets)

    def predict(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return predict(self, texts, progress)


@dataclass
class Ensemble:
    """A weighted average of classifiers' probabilities (the members are calibrated before they are averaged)."""

    members: Sequence[Classifier]
    weights: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.members) != len(self.weights) or not self.members:
            raise ValueError("an ensemble needs one weight per member, and members")
        if any(tuple(m.classes_) != tuple(self.members[0].classes_) for m in self.members):
            raise ValueError("ensemble members must share their labels, in one order")

    @property
    def classes_(self) -> tuple[str, ...]:
        return tuple(self.members[0].classes_)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return combine([m.predict_proba(texts, progress=progress) for m in self.members], self.weights)

    def predict(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return predict(self, texts, progress)


def as_probabilities(probs: np.ndarray) -> np.ndarray:
    """float64 rows that sum to one: a float32 softmax is off by ~1e-7, enough for scikit-learn's log_loss to
    warn that "the y_prob values do not sum to one"."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


def combine(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted average of several models' probabilities of the same rows."""
    weights = np.asarray(weights, dtype=np.float64)
    return np.tensordot(weights / weights.sum(), np.stack(probs), axes=1)


def choose_weight(probs_a: np.ndarray, probs_b: np.ndarray, gold: Sequence[int], steps: int = 20) -> list[dict]:
    """Validation log loss and accuracy of w * a + (1 - w) * b for w = 0, 1/steps, ..., 1, best first: the lowest
    log loss (ties: the higher accuracy).

    Log loss, not accuracy: on 2,000 rows the accuracies of neighbouring weights differ by a few rows, and a
    member whose own checkpoint was chosen on the same split (the encoder's best epoch) looks better there
    than it is, so accuracy picked w = 0 or 1, no ensemble at all, on both of our pairs. Log loss weighs every
    row's probability and is what the temperatures minimise too."""
    from sklearn.metrics import accuracy_score, log_loss

    gold = np.asarray(gold)
    rows = []
    for w in np.linspace(0.0, 1.0, steps + 1):
        probs = as_probabilities(combine([probs_a, probs_b], [w, 1.0 - w]))
        rows.append(
            {
                "weight": round(float(w), 6),
                "accuracy": float(accuracy_score(gold, probs.argmax(axis=1))),
                "log_loss": float(log_loss(gold, probs, labels=range(probs.shape[1]))),
            }
        )
    return sorted(rows, key=lambda r: (r["log_loss"], -r["accuracy"]))


def calibrate(probs: np.ndarray, gold: Sequence[int]) -> tuple[dict, np.ndarray]:
    """Fit a temperature to a model's probabilities of labelled rows: the figures saved in `calibration.json`
    (temperature, rows, accuracy, ECE and log loss before and after) and the calibrated probabilities."""
    from sklearn.metrics import log_loss

    from .metrics import expected_calibration_error

    probs, gold = as_probabilities(probs), np.asarray(gold)
    temperature = fit_temperature(probs, gold)
    after = scale(probs, temperature)
    correct = probs.argmax(axis=1) == gold
    labels = range(probs.shape[1])
    return {
        "temperature": temperature,
        "rows": len(gold),
        "accuracy": float(correct.mean()),
        "ece_before": expected_calibration_error(correct, probs.max(axis=1)),
        "ece_after": expected_calibration_error(correct, after.max(axis=1)),
        "log_loss_before": float(log_loss(gold, probs, labels=labels)),
        "log_loss_after": float(log_loss(gold, after, labels=labels)),
    }, after


# ---- saved files ---------------------------------------------------------------------------------------------
def read_json_file(path: Path, required: Sequence[str]) -> dict:
    """A JSON object with `required` keys, or DataError naming the file."""
    import json

    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", f"line {exc.lineno}") from None
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise DataError(path, f"expected a JSON object with {', '.join(required)}")
    return data


def read_calibration(model_dir: str | os.PathLike[str]) -> dict | None:
    """The calibration saved beside a model (`calibration.json`), or None."""
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    data = read_json_file(path, ["temperature"])
    temperature = data["temperature"]
    if not isinstance(temperature, int | float) or not 0 < temperature < float("inf"):
        raise DataError(path, f"temperature must be a positive number, got {temperature!r}")
    offsets = data.get(OFFSETS)
    if offsets is not None and not (
        isinstance(offsets, list)
        and all(type(o) in (int, float) and -1e6 < o < 1e6 for o in offsets)  # not bool, NaN or inf
    ):
        raise DataError(path, f"{OFFSETS} must be a list of numbers, one per label, got {offsets!r}")
    return data


def ours(path: Path) -> bool:
    """Whether a file is one of our JSON files (so a re-run may replace it)."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8")).get("made_by") == MADE_BY
    except (OSError, ValueError, AttributeError):
        return False


def check_replaceable(path: Path) -> None:
    """Raise UserError if `path` exists and is not a file this project wrote."""
    if path.exists() and not ours(path):
        raise UserError(f"{path}: exists and was not written by emotion-sft; not replaced (move it away first)")


def weights_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 of what a model folder's predictions come from: its weight files (an ensemble: its spec)."""
    import hashlib

    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    files = (
        [model_dir / ENSEMBLE_FILE]
        if (model_dir / ENSEMBLE_FILE).is_file()
        else sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    )
    for file in files:  # read in chunks: a fully fine-tuned model's weights may be gigabytes
        digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 24), b""):
                digest.update(chunk)
    return digest.hexdigest()


def save_calibration(model_dir: str | os.PathLike[str], calibration: dict) -> Path:
    """Write `calibration.json` beside a model (replacing only one we wrote), with the fingerprint of the
    weights it was fitted on: a model retrained since is not silently given the old temperature."""
    path = Path(model_dir) / CALIBRATION_FILE
    check_replaceable(path)
    record = {"made_by": MADE_BY, **calibration, "weights_sha256": weights_fingerprint(model_dir)}
    write_text_atomic(path, dumps_json(record))
    return path


def current_calibration(model_dir: str | os.PathLike[str]) -> dict | None:
    """`read_calibration`, refused (UserError) when it was fitted on other weights than the folder holds now."""
    calibration = read_calibration(model_dir)
    if calibration and calibration.get("weights_sha256") not in (None, weights_fingerprint(model_dir)):
        raise UserError(
            f"{Path(model_dir) / CALIBRATION_FILE}: fitted on other weights than {model_dir} holds now (retrained "
            f"since?); fit it again: python scripts/calibrate.py --model {model_dir}"
        )
    return calibration


def save_ensemble(
    output_dir: str | os.PathLike[str],
    members: Sequence[str | os.PathLike[str]],
    weights: Sequence[float],
    extra: dict | None = None,
) -> Path:
    """Write `ensemble.json`: member folders (relative to `output_dir`, so the tree can move) and weights."""
    output_dir = Path(output_dir)
    path = output_dir / ENSEMBLE_FILE
    check_replaceable(path)
    output_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "made_by": MADE_BY,
        "members": [
            {
                "path": os.path.relpath(Path(m).absolute(), output_dir.absolute()),
                "weight": float(w),
                "temperature": (read_calibration(m) or {}).get("temperature"),  # as calibrated when chosen
            }
            for m, w in zip(members, weights, strict=True)
        ],
        **(extra or {}),
    }
    write_text_atomic(path, dumps_json(spec))
    return path


def read_ensemble(model_dir: str | os.PathLike[str]) -> list[tuple[Path, float]]:
    """The members (folders, resolved from the spec's folder) and weights of a saved ensemble. A member whose
    temperature changed since the spec was written is refused (UserError)."""
    path = Path(model_dir) / ENSEMBLE_FILE
    spec = read_json_file(path, ["members"])
    members = spec["members"]
    if not isinstance(members, list) or len(members) < 2:
        raise DataError(path, "'members' must list at least two {path, weight} objects")
    result = []
    for i, member in enumerate(members):
        weight = member.get("weight") if isinstance(member, dict) else None
        good = isinstance(member, dict) and isinstance(member.get("path"), str) and isinstance(weight, int | float)
        if not good or not 0 <= weight < float("inf"):
            raise DataError(path, f'member {i + 1}: expected {{"path": folder, "weight": a number >= 0}}')
        folder = Path(os.path.normpath(Path(model_dir) / member["path"]))
        saved = member.get("temperature")  # as the member was calibrated when the weight was chosen
        if saved is not None and (read_calibration(folder) or {}).get("temperature") != saved:
            raise UserError(
                f"{folder}: its temperature changed since the ensemble {model_dir} was made (weight and "
                f"temperature were chosen on the old one); make it again with scripts/ensemble.py"
            )
        result.append((folder, float(weight)))
    if not sum(w for _, w in result) > 0:
        raise DataError(path, "the members' weights sum to 0")
    return result


def labelled_split(path: str | os.PathLike[str], task: Task, every_label: bool = False) -> tuple[list[str], np.ndarray]:
    """The texts of a converted split (`data/<task>_validation.json`) and their labels as column indices;
    with `every_label`, a DataError unless every label of the task occurs."""
    from .converter import read_alpaca
    from .parser import gold_label

    records = read_alpaca(path)
    if not records:
        raise DataError(path, "no rows")
    gold = []
    for number, record in enumerate(records, start=1):
        try:
            gold.append(task.labels.index(gold_label(str(record["output"]), task)))
        except ValueError as exc:
            raise DataError(path, str(exc), f"record {number}") from None
    absent = [label for i, label in enumerate(task.labels) if i not in set(gold)]
    if every_label and absent:
        reason = f"no rows labelled {', '.join(absent)}: calibration needs every label (give another split)"
        raise DataError(path, reason)
    return [str(r["input"]) for r in records], np.array(gold)


# ---- any saved model -----------------------------------------------------------------------------------------
@dataclass
class ModelSpec:
    """A saved model, recognised and checked but not loaded: what it is, its task and how to load it."""

    path: Path
    kind: str  # "llm", "encoder" or "ensemble"
    task: Task
    details: str
    loader: Callable[[], Classifier] = field(repr=False)
    calibration: dict | None = None
    members: list[tuple[ModelSpec, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.offsets is not None and len(self.offsets) != len(self.task.labels):
            raise DataError(self.path / CALIBRATION_FILE, f"{OFFSETS} has {len(self.offsets)} numbers, not one per "
                            f"label of task {self.task.name} ({len(self.task.labels)})")  # fmt: skip

    @property
    def offsets(self) -> list[float] | None:
        """The label offsets saved by `calibrate.py --balance`, or None."""
        return self.calibration.get(OFFSETS) if self.calibration else None

    def load(self, calibrated: bool = True, balanced: bool = True) -> Classifier:
        """The classifier; with its saved temperature applied unless `calibrated` is False, and its label offsets
        (if any) unless `balanced` is False too. An ensemble's members are averaged without their offsets."""
        model = self.loader()
        if calibrated and self.calibration:
            model = TemperatureScaled(model, float(self.calibration["temperature"]), self.offsets if balanced else None)
        return model

    def describe(self) -> str:
        temperature = f"temperature {self.calibration['temperature']:.3f}" if self.calibration else "not calibrated"
        if self.offsets is not None:
            temperature += f", label offsets for macro F1 (power {self.calibration.get('balance_power', '?')})"
        return f"{self.kind} model {self.path} ({temperature})\n{self.details}"


def model_kind(path: str | os.PathLike[str]) -> str:
    """What a model folder holds: "ensemble", "encoder" or "llm" (a LoRA adapter); UserError otherwise."""
    from .encoder import CONFIG_FILE

    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such model folder")
    for marker, kind in [(ENSEMBLE_FILE, "ensemble"), (CONFIG_FILE, "encoder"), ("adapter_config.json", "llm")]:
        if (path / marker).is_file():
            return kind
    raise UserError(
        f"{path}: not a trained model (no {ENSEMBLE_FILE}, {CONFIG_FILE} or adapter_config.json): give a LoRA "
        "adapter saved by llamafactory-cli train, an encoder from train_encoder_baseline.py or an ensemble"
    )


def read_model(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str],
    default_recipe: str | os.PathLike[str],
    task: Task | None = None,
    default_task: Task | None = None,
    recipe: str | os.PathLike[str] | None = None,
    _seen: tuple[Path, ...] = (),
) -> ModelSpec:
    """Recognise and check a saved model folder without loading it.

    root: where `llamafactory-cli` runs (the recipes' relative paths start there). For an LLM adapter the
    prompt settings come from `recipe`, else the `training_recipe.yaml` saved beside it, else `default_recipe`.
    task / default_task: as for the label scorer and the encoder (the saved task wins; an explicit task with
    other labels is refused). Raises UserError or DataError naming the folder or file.
    """
    from .encoder import read_config
    from .label_scoring import ScorerRecipe

    path = Path(path)
    kind = model_kind(path)
    calibration = current_calibration(path)
    if kind == "ensemble":
        if path.resolve() in _seen:
            raise DataError(path / ENSEMBLE_FILE, "an ensemble cannot contain itself")
        members = [
            (
                read_model(
                    member,
                    root=root,
                    default_recipe=default_recipe,
                    task=task,
                    default_task=default_task,
                    _seen=(*_seen, path.resolve()),
                ),
                weight,
            )
            for member, weight in read_ensemble(path)
        ]
        labels = {spec.task.labels for spec, _ in members}
        if len(labels) > 1:
            raise DataError(path / ENSEMBLE_FILE, "its members were trained on different labels")
        details = "\n".join(
            f"  member (weight {w:.2f}): {spec.describe()}".replace("\n", "\n    ") for spec, w in members
        )

        def load_ensemble() -> Classifier:  # a member of weight 0 changes nothing: not loaded
            used = [(spec, w) for spec, w in members if w > 0]
            return Ensemble([spec.load(balanced=False) for spec, _ in used], [w for _, w in used])

        return ModelSpec(path, kind, members[0][0].task, details, load_ensemble, calibration, members)
    if kind == "encoder":
        from .encoder import EncoderClassifier

        config = read_config(path)
        scored = task_for_model(path, task) or default_task
        if scored is None:
            raise UserError(f"{path}: no task saved beside it; give the task file (--task)")
        base = f"{config.model} fully fine-tuned" if config.finetuning == "full" else f"{config.model} + LoRA"
        details = f"encoder: {base}, max length {config.max_length}\ntask: {scored.summary()}"
        return ModelSpec(path, kind, scored, details, lambda: EncoderClassifier(path, scored), calibration)
    saved = path / RECIPE_FILE
    used = Path(recipe) if recipe else saved if saved.is_file() else Path(default_recipe)
    spec = ScorerRecipe.read(used, root=root, task=task, default_task=default_task, adapter=path)
    details = f"recipe: {used}{'' if used == saved else ' (no training recipe saved beside the adapter)'}\n"
    return ModelSpec(path, kind, spec.task, details + spec.describe(), lambda: LLMClassifier(spec.load()), calibration)


@dataclass
class LLMClassifier:
    """The label scorer in scikit-learn's shape: a softmax over the labels' log-likelihoods."""

    scorer: object  # LabelScorer
    batch_size: int = 32

    @property
    def classes_(self) -> tuple[str, ...]:
        return tuple(self.scorer.labels)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return softmax(self.scorer.score(texts, batch_size=self.batch_size, progress=progress), axis=1)

    def predict(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return predict(self, texts, progress)
