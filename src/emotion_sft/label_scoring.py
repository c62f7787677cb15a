"""Classify by scoring the task's labels as the assistant's answer, instead of generating text.

For each text the prompt is built by LLaMA-Factory's own template (the one the adapter was trained
with), and each label's answer tokens (the label, then the template's end-of-turn token) are scored
under the fine-tuned model: log P(answer | prompt). The most likely label is the prediction and a
softmax over the label scores gives class probabilities. No answer can be unparsed. The labels and the
user turn come from the task (`Task`) the adapter was trained on: the one saved beside it, else the given one.
`LabelScorer.from_recipe` builds a scorer from a LLaMA-Factory predict recipe (`ScorerRecipe.read` checks it).

It is fast because it computes only what the scores need:
- the prompt prefix that every row shares (system prompt, instruction) is run once and its key/value
  cache reused; rows are sorted by length so batches carry little padding;
- one forward pass per batch scores every label: the labels' tokens ride behind the prompt in
  separate blocks under a tree-shaped attention mask, and the vocabulary projection runs only at the
  positions a score reads (in float32, so that bf16 rounding cannot tie two labels);
- the LoRA adapter is merged into the base weights before scoring;
- the model runs in bf16 on a CPU with fast bf16 matrix products and in fp32 on one without (AVX2 only),
  where PyTorch's bf16 runs ~100x slower (`precision.cpu_dtype`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .cli import UserError, loading
from .fileio import DataError
from .precision import cpu_dtype
from .recipes import read_recipe, recipe_path, uses_instruction
from .task import Task, task_for_model


def check_model_dirs(model: str | os.PathLike[str], adapter: str | os.PathLike[str] | None = None) -> None:
    """Raise UserError unless `model` is a model folder (with config.json) and `adapter`, when given, a LoRA
    adapter folder (with adapter_config.json): cheap checks, before anything loads."""
    for path, marker, what in [(model, "config.json", "model"), (adapter, "adapter_config.json", "LoRA adapter")]:
        if path is None:
            continue
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"{path}: no such {what} folder (run `make model train` first)")
        if not (path / marker).is_file():
            raise UserError(f"{path}: not a {what} folder (no {marker})")


def check_template(name: str, recipe: str | os.PathLike[str]) -> None:
    """Raise DataError unless `name` is one of LLaMA-Factory's chat templates."""
    from llamafactory.data.template import TEMPLATES

    if name not in TEMPLATES:
        raise DataError(recipe, f"template {name!r} is not one of LLaMA-Factory's templates")



@dataclass(frozen=True)
class ScorerRecipe:
    """What a predict recipe says a label scorer loads, read and checked: nothing is loaded yet."""

    recipe: Path
    model: Path
    adapter: Path | None
    template: str
    default_system: str | None
    instruction: bool  # whether the recipe's dataset puts the instruction before the text
    task: Task

    @classmethod
    def read(
        cls,
        recipe: str | os.PathLike[str],
        *,
        root: str | os.PathLike[str],
        task: Task | None = None,
        default_task: Task | None = None,
        model: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | bool | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> ScorerRecipe:
        """Read a LLaMA-Factory predict recipe: base model, LoRA adapter, chat template, system prompt, whether
        the user turn has the instruction (from the dataset's registry entry) and the task.

        root: the folder `llamafactory-cli` runs in; the recipe's relative paths (model, adapter, dataset_dir)
          start there. `model` and `adapter` replace the recipe's and are taken as given (relative to the
          current folder); `adapter=False` scores the base model alone. `overrides`: further recipe keys, as
          `key=value` on the llamafactory-cli command line (`dataset_dir`, `eval_dataset`, `None` for no adapter).
        task: the user's explicit task, refused (DataError) if the adapter was saved with other labels;
          default_task: the task of an adapter saved without one when no task is given.

        Raises DataError for a bad recipe (file and line), registry or saved task, UserError for a folder
        that is not a model or adapter, or no task at all.
        """
        overrides = dict(overrides or {})
        required = [key for key in ("model_name_or_path", "template") if key not in overrides]
        if model and "model_name_or_path" in required:
            required.remove("model_name_or_path")
        settings = {**read_recipe(recipe, required), **overrides}
        model_path = Path(model) if model else recipe_path(settings["model_name_or_path"], root)
        if adapter is False:
            adapter_path = None
        elif adapter:
            adapter_path = Path(adapter)
        elif settings.get("adapter_name_or_path"):
            adapter_path = recipe_path(settings["adapter_name_or_path"], root)
        else:
            adapter_path = None
        check_model_dirs(model_path, adapter_path)
        instruction = uses_instruction(settings, root)
        check_template(settings["template"], recipe)
        scored = task_for_model(adapter_path, task) or default_task
        if scored is None:
            raise UserError(f"{adapter_path or model_path}: no task saved beside it; give the task file (--task)")
        return cls(
            Path(recipe),
            model_path,
            adapter_path,
            settings["template"],
            settings.get("default_system"),
            instruction,
            scored,
        )

    def describe(self) -> str:
        """What is loaded, in a few lines (the scripts print it before loading)."""
        return (
            f"model: {self.model}\nadapter: {self.adapter}\ntemplate: {self.template}, system: "
            f"{self.default_system!r}, instruction: {'yes' if self.instruction else 'no (the text alone)'}"
            f"\ntask: {self.task.summary()}"
        )

    def load(self, dtype: torch.dtype | None = None, first_token: bool = False) -> LabelScorer:
        """The label scorer: the base model with the adapter merged, in `dtype` (default: bf16 on a CPU with
        fast bf16, else fp32: `precision.cpu_dtype`)."""
        return LabelScorer.load(
            self.model,
            self.adapter,
            task=self.task,
            template=self.template,
            default_system=self.default_system,
            dtype=dtype,
            first_token=first_token,
            instruction=self.instruction,
            recipe=self,
        )


@dataclass
class LabelScorer:
    """A causal LM (base + merged LoRA adapter) and its chat template, scoring the labels of `task`.

    Build one from a predict recipe with `LabelScorer.from_recipe`; `classify` gives each text's label and
    the probability of every label, in the task's label order (`labels`)."""

    model: torch.nn.Module
    tokenizer: object
    template: object
    task: Task
    instruction: bool = True  # whether the user turn starts with the instruction (see Task.user_message)
    # Score only each label's first token: one position per row instead of one per label token. Exact
    # ranking whenever the rest of a label follows from its first token (distinct first tokens required).
    first_token: bool = False
    recipe: ScorerRecipe | None = None  # what it was loaded from, when built by from_recipe

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels scored, in the task's order: the columns of `score` and the keys of `probs`."""
        return self.task.labels

    classes_ = labels  # scikit-learn's name, as the encoder's

    def __post_init__(self) -> None:
        self.model.eval()
        stops = set(self.template.get_stop_token_ids(self.tokenizer))
        answers = []
        for label in self.labels:
            _, answer = self.template.encode_oneturn(self.tokenizer, self._messages("x", label))
            end = next((i for i, t in enumerate(answer) if t in stops), None)
            if end is None:
                raise ValueError(f"template gives no end-of-turn token after {label!r}")
            answers.append(answer[: end + 1])  # the label's tokens and the end of the turn
        self.answer_len = torch.tensor([len(a) for a in answers])
        width = int(self.answer_len.max())
        pad = self.tokenizer.pad_token_id or 0
        self.answers = torch.tensor([a + [pad] * (width - len(a)) for a in answers])  # (labels, width)
        if self.first_token and len(set(self.answers[:, 0].tolist())) < len(self.labels):
            raise ValueError("first-token scoring needs labels whose first tokens differ")
        self.prefix: list[int] = []
        self.prefix_cache = None
        # The vocabulary projection in float32 even for a bfloat16 model: bf16 logits (8 bits of mantissa)
        # tie two labels in about 1 row in 250, and a tie goes to whichever label comes first.
        head = self.model.get_output_embeddings()
        self.head_weight = head.weight.detach().float()
        self.head_bias = None if head.bias is None else head.bias.detach().float()

    @classmethod
    def from_recipe(
        cls,
        recipe: str | os.PathLike[str],
        *,
        root: str | os.PathLike[str],
        task: Task | None = None,
        default_task: Task | None = None,
        model: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | bool | None = None,
        overrides: Mapping[str, object] | None = None,
        dtype: torch.dtype | None = None,
        first_token: bool = False,
    ) -> LabelScorer:
        """The scorer a LLaMA-Factory predict recipe describes: `ScorerRecipe.read` (every check, nothing
        loaded; its docstring says what each argument means), then `ScorerRecipe.load`."""
        spec = ScorerRecipe.read(
            recipe, root=root, task=task, default_task=default_task, model=model, adapter=adapter, overrides=overrides
        )
        return spec.load(dtype=dtype, first_token=first_token)

    @classmethod
    def load(
        cls,
        model_path: str | os.PathLike[str],
        adapter_path: str | os.PathLike[str] | None = None,
        *,
        task: Task,
        template: str = "smollm2",
        default_system: str | None = None,
        dtype: torch.dtype | None = None,
        first_token: bool = False,
        instruction: bool = True,
        recipe: ScorerRecipe | None = None,
    ) -> LabelScorer:
        """Base model (+ LoRA adapter, merged) and LLaMA-Factory's chat template, with no checks: the
        recipe-free core of `from_recipe`. `instruction`: whether the adapter was trained with the
        instruction in the user turn."""
        from llamafactory.data import get_template_and_fix_tokenizer
        from llamafactory.hparams import DataArguments
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with loading(model_path):
            tokenizer = AutoTokenizer.from_pretrained(model_path)
            chat = get_template_and_fix_tokenizer(
                tokenizer, DataArguments(template=template, default_system=default_system)
            )
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype or cpu_dtype())
        if adapter_path is not None:
            from peft import PeftModel

            with loading(adapter_path):
                model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
        return cls(model, tokenizer, chat, task, instruction, first_token, recipe)

    def _messages(self, text: str, answer: str = "") -> list[dict[str, str]]:
        return [
            {"role": "user", "content": self.task.user_message(text, self.instruction)},
            {"role": "assistant", "content": answer},
        ]

    def prompt_ids(self, text: str) -> list[int]:
        return self.template.encode_oneturn(self.tokenizer, self._messages(text))[0]

    @torch.inference_mode()
    def _cache_prefix(self, prompts: Sequence[list[int]]) -> None:
        """Run the longest prefix shared by every prompt once (at least one token per prompt stays out)."""
        shortest = min(len(p) for p in prompts)
        n = 0
        while n < shortest - 1 and all(p[n] == prompts[0][n] for p in prompts):
            n += 1
        if self.prefix != list(prompts[0][:n]):
            self.prefix = list(prompts[0][:n])
            self.prefix_cache = None
            if n:
                ids = torch.tensor([self.prefix])
                self.prefix_cache = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values

    @torch.inference_mode()
    def _score_batch(self, prompts: Sequence[list[int]]) -> torch.Tensor:
        """log P(answer | prompt) for every label: a (len(prompts), len(labels)) tensor.

        One forward pass per batch. Each row holds the prompt (after the cached shared prefix, left-padded)
        followed by one block per label with that label's answer tokens but the last; a 4D mask lets each
        block see the prompt and itself only (tree attention), and position ids restart at the end of the
        prompt for every block. Logits are computed only where a score needs them.
        """
        batch, n_prefix = len(prompts), len(self.prefix)
        suffixes = [p[n_prefix:] for p in prompts]
        width = max(map(len, suffixes))
        # Label blocks hold each answer's tokens but the last; none when only first tokens are scored.
        lengths = [] if self.first_token else self.answer_len.tolist()
        blocks = [a[: n - 1] for a, n in zip(self.answers.tolist(), lengths, strict=False)]
        starts = [width + sum(map(len, blocks[:k])) for k in range(len(blocks))]  # block k's first column
        length = width + sum(map(len, blocks))

        ids = torch.full((batch, length), self.tokenizer.pad_token_id or 0)
        positions = torch.zeros((batch, length), dtype=torch.long)
        visible = torch.zeros((batch, length, n_prefix + length), dtype=torch.bool)  # query x key
        visible[:, :, :n_prefix] = True  # everything sees the shared prefix (padding sees only that)
        for i, suffix in enumerate(suffixes):
            pad, end = width - len(suffix), n_prefix + len(suffix)  # end: the position after the prompt
            prompt = slice(n_prefix + pad, n_prefix + width)
            ids[i, pad:width] = torch.tensor(suffix)
            positions[i, pad:width] = torch.arange(n_prefix, end)
            visible[i, pad:width, prompt] = torch.ones(len(suffix), len(suffix), dtype=torch.bool).tril()
            for block, start in zip(blocks, starts, strict=True):
                rows = slice(start, start + len(block))
                ids[i, rows] = torch.tensor(block, dtype=torch.long)
                positions[i, rows] = torch.arange(end, end + len(block))
                visible[i, rows, prompt] = True
                visible[i, rows, n_prefix + start : n_prefix + start + len(block)] = torch.ones(
                    len(block), len(block), dtype=torch.bool
                ).tril()

        cache = None
        if self.prefix_cache is not None:
            cache = copy.deepcopy(self.prefix_cache)
            cache.batch_repeat_interleave(batch)
        keep = torch.arange(width - 1, length)  # the prompt's last token, then every label-block token
        hidden = self.model.get_decoder()(
            input_ids=ids,
            attention_mask=visible.unsqueeze(1),
            position_ids=positions,
            past_key_values=cache,
            use_cache=False,
        ).last_hidden_state[:, keep]
        logits = torch.nn.functional.linear(hidden.float(), self.head_weight, self.head_bias)
        logp = torch.log_softmax(logits, dim=-1)  # (batch, len(keep), vocab)
        scores = logp[:, 0, self.answers[:, 0]]  # every label's first token, after the prompt
        for k, (block, start) in enumerate(zip(blocks, starts, strict=True)):
            targets = self.answers[k, 1 : len(block) + 1]
            rows = logp[:, start - width + 1 : start - width + 1 + len(block)]
            scores[:, k] += rows.gather(-1, targets.expand(batch, -1).unsqueeze(-1)).squeeze(-1).sum(-1)
        return scores

    def score(self, texts: Sequence[str], batch_size: int = 32, progress: bool = True) -> np.ndarray:
        """Log-likelihood of each label as the answer: an array of shape (len(texts), len(labels))."""
        if batch_size < 1:  # range() would skip every batch and leave the scores uninitialised
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        prompts = [self.prompt_ids(text) for text in texts]
        self._cache_prefix(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        scores = np.empty((len(prompts), len(self.labels)), dtype=np.float64)
        for start in tqdm(range(0, len(order), batch_size), desc="label scoring", unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            scores[rows] = self._score_batch([prompts[i] for i in rows]).numpy()
        return scores

    def classify(self, texts: Sequence[str], batch_size: int = 32, progress: bool = True) -> list[dict]:
        """Per text: the predicted label and the probability of every label (softmax over label scores)."""
        scores = self.score(texts, batch_size, progress)
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return [
            {"predict": self.labels[int(row.argmax())], "probs": dict(zip(self.labels, map(float, row), strict=True))}
            for row in probs
        ]
