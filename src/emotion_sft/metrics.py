"""Scores from plain label lists: accuracy with a bootstrap interval, F1s, per-class figures, McNemar."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, classification_report, f1_score

from .parser import UNPARSED


def bootstrap_ci(correct: Sequence[bool], confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0):
    """Percentile bootstrap interval of the mean of `correct` (i.e. of accuracy)."""
    values = np.asarray(correct, dtype=float)
    if values.min() == values.max():  # all right or all wrong: the interval is the point
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile", random_state=seed
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def score(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], seed: int = 0) -> dict:
    """Accuracy (unparsed answers count as wrong), its 95% bootstrap interval, macro/weighted F1, and
    precision, recall, F1 and support per label of `labels` (the task's, in order).

    Macro F1 averages over the labels that occur, in the references or the predictions (`occurring_labels`):
    a label absent from both has no F1 to speak of, and counting it as 0 would score a perfect run on a test
    set without `surprise` 0.833. Unparsed answers are no label; they lower the recall of their reference.
    """
    if len(gold) != len(pred) or not gold:
        raise ValueError(f"need equally long, non-empty gold and predictions, got {len(gold)} and {len(pred)}")
    occurring = occurring_labels(gold, pred, labels)
    report = classification_report(gold, pred, labels=list(labels), output_dict=True, zero_division=0)
    low, high = bootstrap_ci([g == p for g, p in zip(gold, pred, strict=True)], seed=seed)
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "accuracy_ci95": [low, high],
        "n": len(gold),
        "n_unparsed": sum(p == UNPARSED for p in pred),
        "macro_f1": float(f1_score(gold, pred, labels=occurring, average="macro", zero_division=0)),
        "macro_f1_labels": occurring,
        "weighted_f1": float(f1_score(gold, pred, labels=list(labels), average="weighted", zero_division=0)),
        "per_class": {
            label: {key: float(report[label][key]) for key in ("precision", "recall", "f1-score")}
            | {"support": int(report[label]["support"])}
            for label in labels
        },
    }


def occurring_labels(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[str]:
    """The labels (in label order) that occur in the references or the predictions: those macro F1 averages."""
    seen = set(gold) | set(pred)
    return [label for label in labels if label in seen]


def mcnemar(gold: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> dict:
    """Exact McNemar test on paired predictions of the same rows.

    `a_only` rows are right under A and wrong under B, `b_only` the reverse; under the null hypothesis
    of equal accuracy each discordant row is a fair coin, so p is a two-sided binomial test.
    """
    right_a = np.asarray(pred_a) == np.asarray(gold)
    right_b = np.asarray(pred_b) == np.asarray(gold)
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p_value = stats.binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_value": float(p_value)}


def expected_calibration_error(correct: Sequence[bool], confidence: Sequence[float], n_bins: int = 15) -> float:
    """ECE of the top label: rows binned by confidence into `n_bins` equal-width bins over [0, 1] (Guo et al.
    2017), the row-weighted mean of |accuracy - mean confidence| per bin."""
    correct = np.asarray(correct, dtype=float)
    confidence = np.asarray(confidence, dtype=float)
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)  # (b-1)/M < p <= b/M
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, correct, n_bins) - np.bincount(bins, confidence, n_bins))
    return float(gap.sum() / count.sum())


def accuracy_at_coverage(correct: Sequence[bool], confidence: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Selective prediction: keep the most confident rows. Returns (coverage, accuracy): for k = 1..n, the share
    k/n of rows kept and the accuracy of the k most confident (ties in the given row order)."""
    correct = np.asarray(correct, dtype=float)
    order = np.argsort(-np.asarray(confidence, dtype=float), kind="stable")
    kept = np.arange(1, len(correct) + 1)
    return kept / len(correct), np.cumsum(correct[order]) / kept


def confidence_for_coverage(confidence: Sequence[float], coverage: float) -> float:
    """The confidence threshold that keeps (about) `coverage` of the rows: the k-th highest confidence."""
    ranked = np.sort(np.asarray(confidence, dtype=float))[::-1]
    return float(ranked[max(int(np.ceil(coverage * len(ranked))), 1) - 1])
