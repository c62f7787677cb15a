"""The evidence in results/: every prediction file is a full test split, documented, and the README's results
table says what scoring it gives (the numbers a reader recomputes with `make results`)."""

from __future__ import annotations

import re

import pytest

from conftest import EMOTION, REPO_ROOT
from emotion_sft.converter import read_txt
from emotion_sft.metrics import score
from emotion_sft.predictions import read_predictions

RESULTS = REPO_ROOT / "results"
FILES = sorted(RESULTS.glob("*.jsonl"))
# A README results row: | model | accuracy | 95% CI | macro F1 | n | unparsed | source naming `results/X.jsonl` |
ROW = re.compile(
    r"^\| [^|]+ \| \**(?P<accuracy>0\.\d{4})\** \| (?P<low>0\.\d{4})-(?P<high>0\.\d{4}) \| \**(?P<f1>0\.\d{4})\** "
    r"\| (?P<n>\d+) \| (?P<unparsed>\d+) \| `results/(?P<file>[^`]+\.jsonl)`"
)


@pytest.fixture(scope="module")
def readme_rows() -> dict[str, re.Match]:
    """The README's results rows by file name, each file named by one row."""
    rows = {}
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        if match := ROW.match(line):
            assert match["file"] not in rows, f"two README results rows for {match['file']}"
            rows[match["file"]] = match
    return rows


def test_every_file_is_documented_in_both_readmes(readme_rows):
    assert FILES, "no prediction files in results/"
    documented = set(re.findall(r"^\| `([^`]+\.jsonl)` \|", (RESULTS / "README.md").read_text(), re.MULTILINE))
    names = {path.name for path in FILES}
    assert names - documented == set(), "files without a results/README.md row"
    assert documented - names == set(), "results/README.md rows without a file"
    assert set(readme_rows) == names


@pytest.fixture(scope="module")
def test_split(emotion_dir):
    return read_txt(emotion_dir / "test.txt", EMOTION)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_readme_numbers_are_the_files_scores(path, test_split, readme_rows):
    frame = read_predictions(path, EMOTION)
    assert frame["gold"].tolist() == [example.label for example in test_split], "not the test split's labels, in order"
    texts = frame["text"].tolist()
    if all(text and "<|im_start|>" not in text for text in texts):  # label scorers keep the text as given
        assert texts == [example.text for example in test_split]
    metrics = score(frame["gold"].tolist(), frame["pred"].tolist(), EMOTION.labels)  # eval_accuracy.py's seed 0
    row = readme_rows[path.name]
    assert row["accuracy"] == f"{metrics['accuracy']:.4f}"
    assert (row["low"], row["high"]) == tuple(f"{bound:.4f}" for bound in metrics["accuracy_ci95"])
    assert row["f1"] == f"{metrics['macro_f1']:.4f}"
    assert (int(row["n"]), int(row["unparsed"])) == (metrics["n"], metrics["n_unparsed"])
