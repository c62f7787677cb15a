"""Map generated text back to a label, without guessing.

`parse_label` strips chat artefacts (special tokens such as <|eot_id|> or <|im_end|>, a leading
"assistant"), lower-cases, and looks for the task's labels and label words (`Task.words`: for emotion, the
labels, inflections and near-synonyms) as whole words or phrases, the longest first. Preambles need no rule
of their own: "Emotion: joy", "The emotion is fear." and "I think the emotion expressed is joy" each name
one label.

When two *different* labels are named ("joy or sadness", "not anger but fear") the answer is ambiguous
and parses as UNPARSED; repeating one label ("sadness. The text is sad") is fine. Text that names no
label is UNPARSED too. Both are scored as wrong.
"""

from __future__ import annotations

import re

from .task import Task

UNPARSED = "unparsed"

# <|eot_id|>, <|im_end|>, <|end_of_text|>, </s>, <s>, [INST], [/INST]
_SPECIAL = re.compile(r"<\|[^|<>]*\|>|</?s>|\[/?INST\]")
_LEADING_ROLE = re.compile(r"^\W*(?:assistant|answer|output|response)\b\W*", re.IGNORECASE)


def normalize(text: str) -> str:
    """Text without special tokens, a leading role word, case, surrounding space, quotes or punctuation."""
    text = _SPECIAL.sub(" ", text)
    text = _LEADING_ROLE.sub("", text.strip())
    return text.strip().strip("\"'`*_.,;:!?()[]{}<> \t\r\n").strip().lower()


def parse_label(text: str, task: Task) -> str:
    """The one label of `task` that `text` names, or UNPARSED when it names none or several."""
    found = {task.words[match] for match in task.phrase_pattern.findall(normalize(text))}
    return found.pop() if len(found) == 1 else UNPARSED


def gold_label(text: str, task: Task) -> str:
    """A reference label as LLaMA-Factory writes it ("sadness\\n"), normalized by the same code.

    Raises ValueError unless it is exactly one of the task's labels: references are never interpreted.
    """
    label = normalize(text)
    labels = {name.lower(): name for name in task.labels}
    if label not in labels:
        raise ValueError(f"gold label {text!r} is not one of {', '.join(task.labels)}")
    return labels[label]
