"""Classify by scoring the six labels as the assistant's answer, instead of generating text.

For each text the prompt is built by LLaMA-Factory's own template (the one the adapter was trained
with), and each label's answer tokens (the label, then the template's end-of-turn token) are scored
under the fine-tuned model: log P(answer | prompt). The most likely label is the prediction and a
softmax over the six scores gives class probabilities. No answer can be unparsed.

It is fast because it computes only what the scores need:
- the prompt prefix that every row shares (system prompt, instruction) is run once and its key/value
  cache reused; rows are sorted by length so batches carry little padding;
- one forward pass per batch scores all six labels: the labels' tokens ride behind the prompt in
  separate blocks under a tree-shaped attention mask, and the vocabulary projection runs only at the
  positions a score reads (in float32, so that bf16 rounding cannot tie two labels);
- the LoRA adapter is merged into the base weights before scoring.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from .cli import UserError
from .fileio import DataError, read_text
from .labels import LABELS, user_message


def read_recipe(path: str | os.PathLike[str], required: Sequence[str] = ("model_name_or_path", "template")) -> dict:
    """A LLaMA-Factory recipe (YAML) as a dict, with every key in `required` set.

    Raises DataError naming the file for a missing file, bad YAML (with its line), a recipe that is not a
    mapping, or a required key missing.
    """
    path = Path(path)
    try:
        recipe = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(path, f"not valid YAML ({problem})", f"line {mark.line + 1}" if mark else None) from None
    if not isinstance(recipe, dict):
        raise DataError(path, "expected a YAML mapping of LLaMA-Factory arguments (key: value lines)")
    missing = [key for key in required if not recipe.get(key)]
    if missing:
        raise DataError(path, f"no {' or '.join(missing)}: a predict recipe names the base model and its template")
    return recipe


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


@contextlib.contextmanager
def _loading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a folder that transformers or PEFT cannot load (OSError, ValueError) into a one-line UserError."""
    try:
        yield
    except (OSError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: cannot load it ({reason})") from exc


@dataclass
class LabelScorer:
    model: torch.nn.Module
    tokenizer: object
    template: object
    labels: tuple[str, ...] = LABELS
    instruction: bool = True  # whether the user turn starts with the instruction (see labels.user_message)
    # Score only each label's first token: one position per row instead of one per label token. Exact
    # ranking whenever the rest of a label follows from its first token (distinct first tokens required).
    first_token: bool = False

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
    def load(
        cls,
        model_path: str | os.PathLike[str],
        adapter_path: str | os.PathLike[str] | None = None,
        template: str = "smollm2",
        default_system: str | None = None,
        dtype: torch.dtype = torch.bfloat16,
        first_token: bool = False,
        instruction: bool = True,
    ) -> LabelScorer:
        """Base model (+ LoRA adapter, merged) and LLaMA-Factory's chat template, as in the predict recipe;
        `instruction`: whether the adapter was trained with the instruction in the user turn."""
        from llamafactory.data import get_template_and_fix_tokenizer
        from llamafactory.hparams import DataArguments
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with _loading(model_path):
            tokenizer = AutoTokenizer.from_pretrained(model_path)
            chat = get_template_and_fix_tokenizer(
                tokenizer, DataArguments(template=template, default_system=default_system)
            )
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        if adapter_path is not None:
            from peft import PeftModel

            with _loading(adapter_path):
                model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
        return cls(model, tokenizer, chat, first_token=first_token, instruction=instruction)

    def _messages(self, text: str, answer: str = "") -> list[dict[str, str]]:
        return [
            {"role": "user", "content": user_message(text, self.instruction)},
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
