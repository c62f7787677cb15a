"""The classification task as a value: labels, instruction, columns and label words, read from a YAML file.

Every part of the pipeline (converter, parser, metrics, report, label scorer, encoder, client, board) takes a
`Task`; none reads a global label list. `tasks/emotion.yaml` is the default of the scripts. A model saved by
this project carries its task (`task.yaml` beside the weights), so an old adapter never meets another list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from .fileio import DataError, read_text, write_text_atomic

SPLITS = ("train", "validation", "test")
TASK_FILE = "task.yaml"  # the task saved beside a model
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_KEYS = {"name", "labels", "instruction", "text_column", "label_column", "label_words", "source", "baselines",
         "references"}  # fmt: skip


@dataclass(frozen=True)
class Task:
    """One labelled-text classification task. `labels` are in id order (sources that store integer ids)."""

    name: str
    labels: tuple[str, ...]
    instruction: str
    text_column: str = "text"
    label_column: str = "label"
    label_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str | None = None
    baselines: tuple[Mapping, ...] = ()  # {model, accuracy, source[, macro_f1]}: published figures
    references: tuple[str, ...] = ()  # the sources the baselines cite

    # ---- names of the converted data -------------------------------------------------------------------------
    def dataset_name(self, split: str, text_only: bool = False) -> str:
        """The registry name of a split: `emotion_train`, or `emotion_train_text` for the text-alone twin."""
        return f"{self.name}_{split}_text" if text_only else f"{self.name}_{split}"

    def data_file(self, split: str) -> str:
        """The converted split's file name: `emotion_train.json`."""
        return f"{self.name}_{split}.json"

    # ---- labels --------------------------------------------------------------------------------------------
    def label_name(self, value: object) -> str:
        """The label for a name (any case, surrounding spaces) or an integer id; ValueError naming the accepted."""
        if isinstance(value, bool):  # bool is an int subclass; True is no label id
            raise ValueError(f"unknown label {value!r}")
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            index = int(value)
        else:
            text = str(value).strip()
            if text.lower() in self._by_lower:
                return self._by_lower[text.lower()]
            if not text.lstrip("-").isdigit():
                expected = f"{', '.join(self.labels)} or an id 0-{len(self.labels) - 1}"
                raise ValueError(f"unknown label {value!r}; expected one of {expected}")
            index = int(text)
        if not 0 <= index < len(self.labels):
            raise ValueError(
                f"label id {index} out of range; expected 0-{len(self.labels) - 1} ({', '.join(self.labels)})"
            )
        return self.labels[index]

    @cached_property
    def _by_lower(self) -> dict[str, str]:
        return {label.lower(): label for label in self.labels}

    @cached_property
    def words(self) -> dict[str, str]:
        """Every phrase the answer parser accepts (lower case) -> its label: the labels and their label words."""
        found = {label.lower(): label for label in self.labels}
        for label, words in self.label_words.items():
            for word in words:
                found[word.lower()] = label
        return found

    @cached_property
    def phrase_pattern(self) -> re.Pattern[str]:
        """All of `words` in one pattern, longest first, each standing alone (no letter or digit beside it)."""
        phrases = sorted(self.words, key=len, reverse=True)
        return re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, phrases)) + r")(?![a-z0-9])")

    def user_message(self, text: str, instruction: bool = True) -> str:
        """The user turn LLaMA-Factory builds from an Alpaca record: instruction and input joined by a newline,
        or the input alone for a dataset registered without the instruction column (the `_text` datasets)."""
        return f"{self.instruction}\n{text}" if instruction else text

    # ---- files ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Task:
        """Read and check a task file; a bad one is a DataError naming the file and the key."""
        path = Path(path)
        if path.is_dir():
            path = path / TASK_FILE
        try:
            data = yaml.safe_load(read_text(path))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise DataError(path, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                            f"line {mark.line + 1}" if mark else None) from None  # fmt: skip
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: object, source: str | os.PathLike[str] = "task") -> Task:
        def bad(key: str, reason: str) -> DataError:
            return DataError(source, reason, f"key '{key}'")

        if not isinstance(data, dict):
            raise DataError(source, "expected a mapping with name, labels and instruction")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise bad(unknown[0], f"unknown key; expected some of {', '.join(sorted(_KEYS))}")
        for key in ("name", "labels", "instruction"):
            if key not in data:
                raise bad(key, "missing")
        name, labels, instruction = data["name"], data["labels"], data["instruction"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise bad("name", f"{name!r} is not a dataset prefix (letters, digits, '_' or '-')")
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x.strip() for x in labels):
            raise bad("labels", "expected a list of at least two label names")
        labels = tuple(label.strip() for label in labels)
        if len({label.lower() for label in labels}) != len(labels):
            raise bad("labels", "two labels differ only in case or are repeated")
        if not isinstance(instruction, str) or not instruction.strip():
            raise bad("instruction", "expected a non-empty string")
        columns = {}
        for key in ("text_column", "label_column"):
            value = data.get(key, key.split("_")[0])
            if not isinstance(value, str) or not value:
                raise bad(key, "expected a column name")
            columns[key] = value
        words = data.get("label_words") or {}
        if not isinstance(words, dict):
            raise bad("label_words", "expected a mapping label -> list of words")
        label_words, owner = {}, {label.lower(): label for label in labels}
        for label, extra in words.items():
            if label not in labels:
                raise bad("label_words", f"{label!r} is not one of the labels ({', '.join(labels)})")
            if not isinstance(extra, list) or not all(isinstance(w, str) and w.strip() for w in extra):
                raise bad("label_words", f"{label}: expected a list of words")
            for word in extra:
                other = owner.setdefault(word.strip().lower(), label)
                if other != label:
                    raise bad("label_words", f"{word!r} would mean both {other} and {label}")
            label_words[label] = tuple(w.strip() for w in extra)
        baselines = data.get("baselines") or []
        if not isinstance(baselines, list) or not all(
            isinstance(b, dict) and isinstance(b.get("model"), str) and isinstance(b.get("accuracy"), int | float)
            for b in baselines
        ):
            raise bad("baselines", "expected a list of {model, accuracy, source}")
        source_value = data.get("source")
        if source_value is not None and not isinstance(source_value, str):
            raise bad("source", "expected a hub dataset id or a folder")
        return cls(
            name=name,
            labels=labels,
            instruction=instruction.strip(),
            label_words=label_words,
            source=source_value,
            baselines=tuple(baselines),
            references=tuple(str(r) for r in data.get("references") or ()),
            **columns,
        )

    def to_dict(self) -> dict:
        data = {"name": self.name, "labels": list(self.labels), "instruction": self.instruction,
                "text_column": self.text_column, "label_column": self.label_column,
                "label_words": {label: list(words) for label, words in self.label_words.items()}}  # fmt: skip
        if self.source:
            data["source"] = self.source
        if self.baselines:
            data["baselines"] = [dict(b) for b in self.baselines]
        if self.references:
            data["references"] = list(self.references)
        return data

    def save(self, model_dir: str | os.PathLike[str]) -> Path:
        """Write this task beside a model (`task.yaml`), so that loading the model uses these labels."""
        path = Path(model_dir) / TASK_FILE
        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=120))
        return path

    def summary(self) -> str:
        return f"{self.name} ({len(self.labels)} labels: {', '.join(self.labels)})"


def saved_task(model_dir: str | os.PathLike[str]) -> Task | None:
    """The task saved beside a model, or None for a model saved without one."""
    path = Path(model_dir) / TASK_FILE
    return Task.load(path) if path.is_file() else None


def task_for_model(model_dir: str | os.PathLike[str] | None, task: Task | None) -> Task | None:
    """The task a model was trained on: the one saved beside it, else `task` (the user's --task, if given).

    A saved task whose labels differ from an explicitly given one is an error: a model never scores with
    another task's label list."""
    saved = saved_task(model_dir) if model_dir else None
    if saved is not None and task is not None and saved.labels != task.labels:
        raise DataError(
            Path(model_dir) / TASK_FILE,
            f"this model was trained on the labels {', '.join(saved.labels)} (task {saved.name}), not on "
            f"{', '.join(task.labels)} (task {task.name}); leave out --task to use the model's own",
        )
    return saved or task
