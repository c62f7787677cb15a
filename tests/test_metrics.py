import pytest
from sklearn.metrics import f1_score

from conftest import EMOTION
from emotion_sft.metrics import bootstrap_ci, mcnemar, score
from emotion_sft.parser import UNPARSED


def test_score_counts_unparsed_as_wrong_and_reports_every_field():
    gold = ["joy", "joy", "sadness", "fear", "anger", "love", "surprise", "joy"]
    pred = ["joy", UNPARSED, "sadness", "fear", "fear", "love", "surprise", "sadness"]
    m = score(gold, pred, EMOTION.labels)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["n"] == 8 and m["n_unparsed"] == 1
    assert m["per_class"]["joy"] == {"precision": 1.0, "recall": pytest.approx(1 / 3), "f1-score": 0.5, "support": 3}
    assert m["per_class"]["fear"]["precision"] == 0.5 and m["per_class"]["anger"]["recall"] == 0.0
    assert 0 <= m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1] <= 1
    assert 0 < m["macro_f1"] < 1 and 0 < m["weighted_f1"] < 1


def test_bootstrap_interval_narrows_with_more_rows():
    small = bootstrap_ci([True] * 8 + [False] * 2)
    large = bootstrap_ci([True] * 800 + [False] * 200)
    assert small[0] < 0.8 < small[1] and large[0] < 0.8 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 4
    assert bootstrap_ci([True] * 5) == (1.0, 1.0)


def test_mcnemar_exact_p_values():
    gold = ["joy"] * 20
    a = ["joy"] * 20
    b = ["joy"] * 10 + ["fear"] * 10  # b is wrong on 10 rows where a is right
    result = mcnemar(gold, a, b)
    assert result["a_only"] == 10 and result["b_only"] == 0
    assert result["p_value"] == pytest.approx(2 * 0.5**10)
    assert mcnemar(gold, a, a)["p_value"] == 1.0


def test_score_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        score(["joy"], [], EMOTION.labels)


def test_macro_f1_averages_over_the_labels_that_occur():
    gold = ["joy", "sadness", "anger", "fear", "love"] * 4  # 20 rows, no surprise
    perfect = score(gold, gold, EMOTION.labels)
    assert perfect["macro_f1"] == 1.0 and perfect["macro_f1_labels"] == ["sadness", "joy", "love", "anger", "fear"]
    # a label only predicted still counts (its F1 is 0), and unparsed is no label
    pred = ["surprise"] + gold[1:-1] + [UNPARSED]
    m = score(gold, pred, EMOTION.labels)
    assert "surprise" in m["macro_f1_labels"] and UNPARSED not in m["macro_f1_labels"]
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=m["macro_f1_labels"], average="macro"))
    assert m["macro_f1"] < 1
