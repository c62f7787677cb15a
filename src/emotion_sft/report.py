"""The comparison report: our runs beside the published baselines, McNemar between runs, a confusion matrix, and
for runs with probabilities their calibration (ECE, reliability diagram) and accuracy against coverage."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import accuracy_at_coverage, confidence_for_coverage, expected_calibration_error
from .parser import UNPARSED
from .task import Task


def baselines_table(baselines: Sequence[Mapping]) -> pd.DataFrame:
    """A task's published figures (`Task.baselines`) as rows model, accuracy[, macro F1], source."""
    rows = [
        {
            "model": b["model"],
            "accuracy": float(b["accuracy"]),
            "macro F1": b.get("macro_f1"),
            "source": b.get("source"),
        }
        for b in baselines
    ]
    return pd.DataFrame(rows, columns=["model", "accuracy", "macro F1", "source"]).astype({"accuracy": float})


def comparison_table(runs: Mapping[str, dict], baselines: Sequence[Mapping] = ()) -> pd.DataFrame:
    """Our runs (name -> metrics) and a task's published baselines, sorted by accuracy."""
    ours = pd.DataFrame(
        [
            {
                "model": name,
                "accuracy": m["accuracy"],
                "95% CI": f"{m['accuracy_ci95'][0]:.4f}-{m['accuracy_ci95'][1]:.4f}",
                "macro F1": m["macro_f1"],
                "n": m["n"],
                "unparsed": m["n_unparsed"],
                "source": "this run",
            }
            for name, m in runs.items()
        ]
    )
    published = baselines_table(baselines).dropna(axis=1, how="all")
    table = pd.concat([ours, published], ignore_index=True) if len(published) else ours
    table = table.sort_values("accuracy", ascending=False, kind="stable").reset_index(drop=True)
    return table.astype({"n": "Int64", "unparsed": "Int64"})


def mcnemar_table(comparisons: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame(comparisons, columns=["a", "b", "a_only", "b_only", "p_value"])


def per_class_table(metrics: dict) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(metrics["per_class"], orient="index")
    return table.assign(support=table["support"].map(str))  # keep counts out of the float format


def markdown(table: pd.DataFrame) -> str:
    """GitHub markdown with 4 decimals; missing cells (baselines have no interval) left blank."""
    return table.astype(object).where(table.notna(), "").to_markdown(index=False, floatfmt=".4f")


COVERAGES = (1.0, 0.9, 0.8, 0.5)  # the shares of most confident rows the calibration table reports


def confidence_runs(frames: Mapping[str, pd.DataFrame]) -> dict[str, dict]:
    """For each run whose predictions carry probabilities: `correct` (per row), `confidence` (the predicted
    label's probability) and `uncalibrated` (the same before calibration, or None)."""
    result = {}
    for name, frame in frames.items():
        if frame["probs"].isna().any():
            continue
        probs = np.stack(frame["probs"].to_numpy())
        before = None if frame["probs_uncalibrated"].isna().any() else np.stack(frame["probs_uncalibrated"].to_numpy())
        result[name] = {
            "correct": (frame["gold"] == frame["pred"]).to_numpy(),
            "confidence": probs.max(axis=1),
            "uncalibrated": None if before is None else before.max(axis=1),
        }
    return result


def calibration_table(runs: Mapping[str, dict]) -> pd.DataFrame:
    """Per run with probabilities: ECE (15 bins) before and after calibration, and the accuracy of the most
    confident rows at each of `COVERAGES`, with the confidence threshold that keeps them."""
    rows = []
    for name, run in runs.items():
        before = run["uncalibrated"]
        row = {
            "model": name,
            "ECE before": None if before is None else expected_calibration_error(run["correct"], before),
            "ECE": expected_calibration_error(run["correct"], run["confidence"]),
        }
        coverage, accuracy = accuracy_at_coverage(run["correct"], run["confidence"])
        for share in COVERAGES:
            k = max(int(np.ceil(share * len(coverage))), 1) - 1
            row[f"acc@{share:.0%}"] = float(accuracy[k])
            row[f"p>={share:.0%}"] = confidence_for_coverage(run["confidence"], share)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.drop(columns=[c for c in table if c.startswith("p>=100")])


def render_report(
    runs: Mapping[str, dict], comparisons: Sequence[dict], task: Task, calibration: pd.DataFrame | None = None
) -> str:
    """report.md: the comparison table (with the task's published baselines), McNemar's tests and the first
    run's per-class figures."""
    first = next(iter(runs))
    parts = [
        f"# {task.name}: test accuracy",
        "",
        markdown(comparison_table(runs, task.baselines)),
        "",
        "Our runs: accuracy over all rows (answers naming no label, or two, count as wrong), 95% percentile "
        "bootstrap interval, macro F1 over the labels that occur (in the references or the predictions)."
        + (" Published numbers are as reported by their sources:" if task.baselines else ""),
    ]
    if task.references:
        parts += ["", "\n".join(f"- {reference}" for reference in task.references)]
    if comparisons:
        parts += [
            "",
            "## McNemar's test (same rows)",
            "",
            markdown(mcnemar_table(comparisons)),
            "",
            "a_only: rows right under a and wrong under b; b_only: the reverse; exact two-sided p.",
        ]
    if calibration is not None and len(calibration):
        parts += [
            "",
            "## Calibration and selective prediction",
            "",
            markdown(calibration),
            "",
            "ECE: expected calibration error of the predicted label's probability, 15 equal-width bins (ECE before: "
            "the model's own probabilities, where a temperature fitted on the validation split was applied). "
            "acc@x: accuracy of the x most confident rows; p>=x: the confidence that keeps them, a threshold for "
            "labelling automatically and sending the rest to a person. Diagrams: calibration.png, coverage.png.",
        ]
    parts += ["", f"## Per class: {first}", "", per_class_table(runs[first]).to_markdown(floatfmt=".4f"), ""]
    return "\n".join(parts)


def plot_confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], path: str | os.PathLike[str], title: str
) -> None:
    """Row-normalised confusion matrix (with an `unparsed` column when any answer was unparsed), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    columns = list(labels) + ([UNPARSED] if UNPARSED in set(pred) else [])
    matrix = confusion_matrix(gold, pred, labels=columns)[: len(labels)]
    fig, ax = plt.subplots(figsize=(7.5, 6))
    counts = pd.DataFrame(matrix, index=list(labels), columns=columns)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    image = ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in pd.DataFrame(matrix).stack().items():
        ax.text(j, i, str(value), ha="center", va="center", color="white" if shares.iat[i, j] > 0.5 else "black")
    ax.set(
        xticks=range(len(columns)),
        xticklabels=columns,
        yticks=range(len(labels)),
        yticklabels=list(labels),
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    _save_figure(fig, path)


def plot_learning_curve(
    curve: pd.DataFrame, path: str | os.PathLike[str], title: str, baselines: Sequence[Mapping] = ()
) -> None:
    """Test accuracy (with its 95% interval) against training samples seen, as PNG, with the two best of a
    task's published baselines as dashed lines.

    `curve` has columns samples, accuracy, ci_low, ci_high (one row per checkpoint, 0 = the base model).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.fill_between(curve["samples"], curve["ci_low"], curve["ci_high"], alpha=0.2, label="95% bootstrap interval")
    ax.plot(curve["samples"], curve["accuracy"], marker="o", label="test accuracy")
    best = baselines_table(baselines).nlargest(2, "accuracy")
    # the higher one's label above its line, the lower one's below: apart even when they are close
    placements = ("bottom", "top")[: len(best)]
    for (name, value), where in zip(best[["model", "accuracy"]].itertuples(index=False), placements, strict=True):
        ax.axhline(value, ls="--", lw=0.8, color="grey")
        ax.annotate(f"{name} (published)", (0, value), ha="left", va=where, fontsize=8, color="dimgrey")
    ax.set(xlabel="training samples seen", ylabel="accuracy on the test split", ylim=(0, 1), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    _save_figure(fig, path)


def plot_reliability(runs: Mapping[str, dict], path: str | os.PathLike[str]) -> None:
    """Reliability diagrams (scikit-learn's CalibrationDisplay, 15 bins) of the predicted label's probability,
    one panel per run, before and after calibration, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay

    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.6), squeeze=False)
    for ax, (name, run) in zip(axes[0], runs.items(), strict=True):
        curves = [("calibrated" if run["uncalibrated"] is not None else "model", run["confidence"])]
        if run["uncalibrated"] is not None:
            curves.insert(0, ("uncalibrated", run["uncalibrated"]))
        for label, confidence in curves:
            ece = expected_calibration_error(run["correct"], confidence)
            CalibrationDisplay.from_predictions(
                run["correct"], confidence, n_bins=15, ax=ax, name=f"{label} (ECE {ece:.3f})", marker="o", ms=3
            )
        ax.set(title=name, xlabel="confidence (predicted label's probability)", ylabel="accuracy in the bin")
        ax.set_xlim(0, 1)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_coverage(runs: Mapping[str, dict], path: str | os.PathLike[str]) -> None:
    """Accuracy of the most confident rows against the share of rows kept (selective prediction), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, run in runs.items():
        coverage, accuracy = accuracy_at_coverage(run["correct"], run["confidence"])
        ax.plot(coverage, accuracy, label=name)
    ax.set(
        xlabel="coverage (share of rows labelled, most confident first)",
        ylabel="accuracy of those rows",
        xlim=(0, 1),
        title="accuracy against coverage",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    _save_figure(fig, path)


def _save_figure(fig, path: str | os.PathLike[str]) -> None:
    """Write a matplotlib figure as PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
