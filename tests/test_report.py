"""The report for a task with no published baselines: only our runs, and a learning curve without lines."""

from __future__ import annotations

import pandas as pd

from emotion_sft.report import comparison_table, plot_learning_curve


def test_a_task_without_baselines_reports_only_its_runs(tmp_path):
    run = {"accuracy": 0.5, "accuracy_ci95": [0.4, 0.6], "macro_f1": 0.5, "n": 10, "n_unparsed": 0}
    table = comparison_table({"mine": run}, ())
    assert table["model"].tolist() == ["mine"]
    curve = pd.DataFrame({"samples": [0, 8], "accuracy": [0.3, 0.5], "ci_low": [0.2, 0.4], "ci_high": [0.4, 0.6]})
    plot_learning_curve(curve, tmp_path / "curve.png", "tickets", baselines=())
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
