"""The comparison report: our runs beside the published baselines, McNemar between runs, a confusion matrix."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .labels import LABELS
from .parser import UNPARSED

_LLAMA3_SEED = "Llama3-8B LoRA seed [1], Table 3"
SOURCES = (
    "- [1] D. Li, Emotion text classification using Llama3-8b with LoRA and FlashAttention, "
    "github.com/DaoyuanLi2816/llama3-8b_emotion_text_classification_lora (2024).\n"
    "- [2] Fine-tuning DistilBERT for emotion classification using PEFT (LoRA): evaluation accuracy 0.89."
)
# Published test accuracy on the emotion dataset, one table for the README, the report and the tests.
PUBLISHED_BASELINES = pd.DataFrame(
    [
        ("BERT-base", 0.9063, _LLAMA3_SEED),
        ("BERT-large", 0.9086, _LLAMA3_SEED),
        ("RoBERTa-base", 0.9125, _LLAMA3_SEED),
        ("RoBERTa-large", 0.9189, _LLAMA3_SEED),
        ("Llama3-8B + LoRA", 0.9262, _LLAMA3_SEED),
        ("DistilBERT + LoRA (PEFT)", 0.89, "DistilBERT LoRA seed [2]"),
    ],
    columns=["model", "accuracy", "source"],
)


def comparison_table(runs: Mapping[str, dict]) -> pd.DataFrame:
    """Our runs (name -> metrics) and the published baselines, sorted by accuracy."""
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
    table = pd.concat([ours, PUBLISHED_BASELINES], ignore_index=True)
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


def render_report(runs: Mapping[str, dict], comparisons: Sequence[dict]) -> str:
    """report.md: the comparison table, McNemar's tests and the first run's per-class figures."""
    first = next(iter(runs))
    parts = [
        "# Emotion classification: test accuracy",
        "",
        markdown(comparison_table(runs)),
        "",
        "Our runs: accuracy over all rows (answers naming no label, or two, count as wrong), 95% percentile "
        "bootstrap interval, macro F1 over the labels that occur (in the references or the predictions). "
        "Published numbers are as reported by their sources:",
        "",
        SOURCES,
    ]
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


def plot_confusion_matrix(gold: Sequence[str], pred: Sequence[str], path: str | os.PathLike[str], title: str) -> None:
    """Row-normalised confusion matrix (with an `unparsed` column when any answer was unparsed), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    columns = list(LABELS) + ([UNPARSED] if UNPARSED in set(pred) else [])
    matrix = confusion_matrix(gold, pred, labels=columns)[: len(LABELS)]
    fig, ax = plt.subplots(figsize=(7.5, 6))
    counts = pd.DataFrame(matrix, index=list(LABELS), columns=columns)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    image = ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in pd.DataFrame(matrix).stack().items():
        ax.text(j, i, str(value), ha="center", va="center", color="white" if shares.iat[i, j] > 0.5 else "black")
    ax.set(
        xticks=range(len(columns)),
        xticklabels=columns,
        yticks=range(len(LABELS)),
        yticklabels=list(LABELS),
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    _save_figure(fig, path)


def plot_learning_curve(curve: pd.DataFrame, path: str | os.PathLike[str], title: str) -> None:
    """Test accuracy (with its 95% interval) against training samples seen, as PNG.

    `curve` has columns samples, accuracy, ci_low, ci_high (one row per checkpoint, 0 = the base model).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.fill_between(curve["samples"], curve["ci_low"], curve["ci_high"], alpha=0.2, label="95% bootstrap interval")
    ax.plot(curve["samples"], curve["accuracy"], marker="o", label="test accuracy")
    published = PUBLISHED_BASELINES.set_index("model")["accuracy"]
    for name, where in (("RoBERTa-large", "top"), ("Llama3-8B + LoRA", "bottom")):  # 0.919 and 0.926: apart
        value = published[name]
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
