"""The task, defined once: the label set in the hub's id order and the instruction text.

The converter, the parser, the metrics, the encoder baseline and the recipes' docs all read these
names from here, so changing the task (your own labels, another wording) is a one-file edit.
"""

from __future__ import annotations

# Order = the integer ids of `dair-ai/emotion` on the Hugging Face hub (0 sadness ... 5 surprise).
LABELS: tuple[str, ...] = ("sadness", "joy", "love", "anger", "fear", "surprise")

# The instruction of the seed project (Llama3-8B + LoRA, 0.9262 test accuracy), kept verbatim so that
# the paper recipe trains on exactly the data it was reported on.
INSTRUCTION = "Do emotion classification for data in the following text."


def user_message(text: str, instruction: bool = True) -> str:
    """The user turn LLaMA-Factory builds from an Alpaca record: instruction and input joined by a newline,
    or the input alone for a dataset registered without the instruction column (the `_text` datasets)."""
    return f"{INSTRUCTION}\n{text}" if instruction else text


def label_name(value: object) -> str:
    """Return the canonical label for a name (any case, surrounding spaces) or a hub integer id.

    Raises ValueError with the accepted values when `value` is neither.
    """
    if isinstance(value, bool):  # bool is an int subclass; True is no label id
        raise ValueError(f"unknown label {value!r}")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        index = int(value)
    else:
        text = str(value).strip()
        if text.lower() in LABELS:
            return text.lower()
        if not text.lstrip("-").isdigit():
            expected = f"{', '.join(LABELS)} or an id 0-{len(LABELS) - 1}"
            raise ValueError(f"unknown label {value!r}; expected one of {expected}")
        index = int(text)
    if not 0 <= index < len(LABELS):
        raise ValueError(f"label id {index} out of range; expected 0-{len(LABELS) - 1} ({', '.join(LABELS)})")
    return LABELS[index]


# Words a generated answer may use for a label: inflections and near-synonyms, read by the parser.
# Only unambiguous words: "mad", "upset", "shocked" or "hurt" could be several labels and are left out.
LABEL_WORDS: dict[str, tuple[str, ...]] = {
    "sadness": ("sadness", "sad", "sadder", "saddest", "sorrow", "sorrowful", "unhappy", "unhappiness"),
    "joy": ("joy", "joyful", "joyous", "happy", "happiness", "happier", "glad", "delighted", "cheerful"),
    "love": ("love", "loving", "loved", "affection", "affectionate", "romantic"),
    "anger": ("anger", "angry", "angered", "angrier", "furious", "rage", "annoyed", "irritated"),
    "fear": ("fear", "fearful", "feared", "afraid", "scared", "frightened", "terrified", "anxious", "nervous"),
    "surprise": ("surprise", "surprised", "surprising", "astonished", "amazed", "amazement"),
}
