"""bf16 on a CPU that multiplies bf16 matrices natively, fp32 on one that does not.

The CPU recipes train and score in bf16: on CPUs with AVX-512 (BF16) or AMX, oneDNN's bf16 kernels ran the CPU
default 1.45x faster than fp32 (README, Performance). On a CPU without them (AVX2 only: many AMD EPYC and Ryzen,
most laptops) PyTorch falls back to a plain loop: a bf16 matrix product ran at 1.1 GFLOP/s against fp32's 104 on
such an EPYC, and one training step of the CPU default took 2 minutes instead of 2 seconds. So everything this
project runs on a CPU asks `cpu_bf16()` first; `make` passes `bf16=false` to the recipes there
(`make PRECISION=bf16|fp32` to choose yourself), and `python -m emotion_sft.precision` prints the choice.
"""

from __future__ import annotations

from collections.abc import Mapping

PRECISIONS = ("bf16", "fp32")


def cpu_bf16() -> bool:
    """Whether this CPU has fast bf16 matrix products: PyTorch's oneDNN bf16 kernels are usable (AVX-512 or AMX)."""
    import torch

    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:  # a build without oneDNN
        return False


def cpu_precision() -> str:
    """ "bf16" where the CPU has fast bf16 matrix products, else "fp32"."""
    return "bf16" if cpu_bf16() else "fp32"


def cpu_dtype():
    """The torch dtype to run a model in on this CPU (the label scorer's default)."""
    import torch

    return torch.bfloat16 if cpu_bf16() else torch.float32


def _true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "t", "1", "yes", "y", "on")  # transformers' strtobool


def cpu_overrides(recipe: Mapping, overrides: Mapping[str, object] = ()) -> dict[str, str]:
    """The llamafactory-cli overrides that keep a CPU recipe off slow bf16: {"bf16": "false"} when the recipe
    (with `overrides`) runs on the CPU (`use_cpu`) in bf16 that it took from the file, not from `overrides`,
    and this CPU has no fast bf16. Nothing otherwise: an explicit bf16=true is obeyed."""
    overrides = dict(overrides)
    merged = {**recipe, **overrides}
    if "bf16" in overrides or not _true(merged.get("use_cpu", False)) or not _true(merged.get("bf16", False)):
        return {}
    return {} if cpu_bf16() else {"bf16": "false"}


def trainer_precision() -> str:
    """ "bf16" where transformers' Trainer would train in bf16 at speed: a CUDA GPU with bf16 (it trains there
    when there is one), else this CPU's `cpu_precision`."""
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return cpu_precision()


if __name__ == "__main__":
    import sys

    # --trainer: for make head (the Trainer's device); else the CPU recipes' precision
    print(trainer_precision() if sys.argv[1:] == ["--trainer"] else cpu_precision())
