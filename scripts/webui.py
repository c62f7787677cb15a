#!/usr/bin/env python
"""Start LLaMA Board for this project: emotion datasets listed, SmolLM2 preset, nothing sent off the machine.

python scripts/webui.py --host 127.0.0.1 --port 7860
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emotion_sft.board import launch
from emotion_sft.cli import run
from emotion_sft.paths import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--host",
        default=os.getenv("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (0.0.0.0 to reach it from other machines)",
    )
    parser.add_argument("--port", type=int, default=int(os.getenv("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="folder with dataset_info.json and data/ (default: this repo)"
    )
    args = parser.parse_args(argv)
    launch(args.host, args.port, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
