import pytest

from emotion_sft.labels import INSTRUCTION, LABELS, label_name


def test_labels_follow_the_hub_ids():
    assert LABELS == ("sadness", "joy", "love", "anger", "fear", "surprise")
    assert INSTRUCTION == "Do emotion classification for data in the following text."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("joy", "joy"),
        (" Fear\n", "fear"),
        ("SURPRISE", "surprise"),
        (0, "sadness"),
        (5, "surprise"),
        ("3", "anger"),
        (2.0, "love"),
    ],
)
def test_label_name_accepts_names_and_ids(value, expected):
    assert label_name(value) == expected


@pytest.mark.parametrize("value", ["happy", "", "6", -1, 6, True, 1.5, None])
def test_label_name_rejects_anything_else(value):
    with pytest.raises(ValueError, match="label"):
        label_name(value)
