"""The task file: read and checked once, the labels and words every other part uses."""

from __future__ import annotations

import pytest

from conftest import EMOTION, TASK_FILE
from emotion_sft.fileio import DataError
from emotion_sft.parser import UNPARSED, parse_label
from emotion_sft.task import Task, saved_task, task_for_model

QUEUES = {
    "name": "tickets",
    "labels": ["billing", "tech_support", "not spam"],
    "instruction": "Route this support ticket.",
    "text_column": "body",
    "label_column": "queue",
    "label_words": {"billing": ["invoice", "refund"], "tech_support": ["bug"]},
}


def test_emotion_task_is_the_hubs_labels_and_the_seeds_instruction():
    assert EMOTION.labels == ("sadness", "joy", "love", "anger", "fear", "surprise")
    assert EMOTION.instruction == "Do emotion classification for data in the following text."
    assert (EMOTION.name, EMOTION.text_column, EMOTION.label_column, EMOTION.source) == (
        "emotion", "text", "label", "dair-ai/emotion"
    )  # fmt: skip
    assert EMOTION.dataset_name("train") == "emotion_train" and EMOTION.data_file("test") == "emotion_test.json"
    assert EMOTION.dataset_name("validation", text_only=True) == "emotion_validation_text"
    assert {b["model"] for b in EMOTION.baselines} >= {"RoBERTa-large", "Llama3-8B + LoRA"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("joy", "joy"), (" Fear\n", "fear"), ("SURPRISE", "surprise"), (0, "sadness"), (5, "surprise"), ("3", "anger"),
     (2.0, "love")],
)  # fmt: skip
def test_label_name_accepts_names_and_ids(value, expected):
    assert EMOTION.label_name(value) == expected


@pytest.mark.parametrize("value", ["happy", "", "6", -1, 6, True, 1.5, None])
def test_label_name_rejects_anything_else(value):
    with pytest.raises(ValueError, match="label"):
        EMOTION.label_name(value)


def test_another_task_parses_its_own_labels_and_phrases_only():
    task = Task.from_dict(QUEUES)
    assert task.label_name("Not Spam") == "not spam" and task.label_name(1) == "tech_support"
    assert parse_label("Queue: tech_support", task) == "tech_support"
    assert parse_label("This is not spam.", task) == "not spam"
    assert parse_label("a refund request", task) == "billing"
    assert parse_label("billing or bug", task) == UNPARSED  # two labels
    assert parse_label("joy", task) == UNPARSED  # another task's label
    assert parse_label("billing", EMOTION) == UNPARSED


def test_task_round_trips_through_a_model_folder(tmp_path):
    task = Task.from_dict(QUEUES, "tickets.yaml")
    task.save(tmp_path)
    assert saved_task(tmp_path) == task == Task.load(tmp_path / "task.yaml")
    assert task_for_model(tmp_path, None) == task and task_for_model(tmp_path, task) == task
    with pytest.raises(DataError, match="trained on the labels billing, tech_support, not spam"):
        task_for_model(tmp_path, EMOTION)  # never another task's label list
    assert saved_task(tmp_path / "elsewhere") is None and task_for_model(tmp_path / "elsewhere", EMOTION) == EMOTION


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["only"]}, "key 'labels': expected a list of at least two"),
        ({"labels": ["a", "A"]}, "key 'labels': two labels differ only in case"),
        ({"name": "has space"}, "key 'name'"),
        ({"instruction": ""}, "key 'instruction'"),
        ({"label_words": {"nope": ["x"]}}, "key 'label_words': 'nope' is not one of the labels"),
        ({"label_words": {"billing": ["bug"], "tech_support": ["Bug"]}}, "'Bug' would mean both billing and tech_"),
        ({"colour": "red"}, "key 'colour': unknown key"),
        ({"baselines": [{"model": "x"}]}, "key 'baselines'"),
    ],
)
def test_a_bad_task_file_names_the_key(tmp_path, change, message):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**QUEUES, **change}))
    with pytest.raises(DataError, match=message) as error:
        Task.load(path)
    assert str(path) in str(error.value)


def test_unreadable_task_files(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        Task.load(tmp_path / "broken.yaml")
    with pytest.raises(DataError, match="none.yaml: No such file"):
        Task.load(tmp_path / "none.yaml")
    assert Task.load(TASK_FILE) == EMOTION
