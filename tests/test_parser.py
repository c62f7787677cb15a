import pytest

from conftest import EMOTION
from emotion_sft.parser import UNPARSED, gold_label, normalize, parse_label


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ("joy", "joy"),
        ("JOY", "joy"),
        ("  Sadness \n", "sadness"),
        ("fear.", "fear"),
        ('"love"', "love"),
        ("**anger**", "anger"),
        ("`surprise`", "surprise"),
        ("'joy'!", "joy"),
        ("sadness<|eot_id|>", "sadness"),
        ("fear<|im_end|>", "fear"),
        ("<|start_header_id|>assistant<|end_header_id|>\n\nlove<|eot_id|>", "love"),
        ("assistant\n\nanger", "anger"),
        ("Assistant: surprise", "surprise"),
        ("Emotion: joy", "joy"),
        ("The emotion is fear.", "fear"),
        ("Answer: surprise", "surprise"),
        ("I think the emotion expressed is joy", "joy"),
        ("sad", "sadness"),
        ("happy", "joy"),
        ("Joyful", "joy"),
        ("loving", "love"),
        ("angry", "anger"),
        ("afraid", "fear"),
        ("scared", "fear"),
        ("fearful", "fear"),
        ("surprised", "surprise"),
        ("sadness. The writer is sad and lonely.", "sadness"),  # one label, said twice
        ("joy\nuser\n", "joy"),
    ],
)
def test_parse_label_reads_what_models_write(generated, expected):
    assert parse_label(generated, EMOTION) == expected


@pytest.mark.parametrize(
    "generated",
    [
        "",
        "   ",
        "<|eot_id|>",
        "neutral",
        "disrespect",
        "I cannot tell.",
        "joyride",
        "lovely weather",
        "joy or sadness",
        "not anger but fear",
        "sad and happy",
    ],
)
def test_no_label_or_two_labels_is_unparsed(generated):
    assert parse_label(generated, EMOTION) == UNPARSED


def test_every_label_word_parses_to_its_label():
    for word, label in EMOTION.words.items():
        assert parse_label(f"The emotion is {word}.", EMOTION) == label
    assert set(EMOTION.words.values()) == set(EMOTION.labels) and len(EMOTION.words) == 46


@pytest.mark.parametrize("raw", ["sadness\n", "joy", " Love \n", "fear<|im_end|>", "surprise\r\n"])
def test_gold_labels_are_normalized_by_the_same_code(raw):
    assert gold_label(raw, EMOTION) in EMOTION.labels
    assert gold_label(raw, EMOTION) == normalize(raw)


@pytest.mark.parametrize("raw", ["happy\n", "", "joy sadness", "neutral"])
def test_gold_labels_outside_the_label_set_are_errors(raw):
    with pytest.raises(ValueError, match="gold label"):
        gold_label(raw, EMOTION)
