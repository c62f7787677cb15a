"""The comparison report: our runs beside the published baselines, McNemar between runs, a confusion matrix."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .parser import UNPARSED
from .task import Task


def baselines_table(baselines: Sequence[Mapping]) -> pd.DataFrame:
    """A task's published figures (`Task.baselines`) as rows model, accuracy[, macro F1], source."""
    rows = [
        {"model": b["model"], "accuracy": float(b["accuracy"]), "macro F1": b.get("macro_f1"),
         "source": b.get("source")}
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


def render_report(runs: Mapping[str, dict], comparisons: Sequence[dict], task: Task) -> str:
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


def _save_figure(fig, path: str | os.PathLike[str]) -> None:
    """Write a matplotlib figure as PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
