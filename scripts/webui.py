#!/usr/bin/env python
"""Start LLaMA Board for this project: every converted task's datasets listed, SmolLM2 and the CPU recipe's
settings preset on the task's training split, nothing sent off the machine.

python scripts/webui.py --host 127.0.0.1 --port 7860
python scripts/webui.py --task tasks/tickets.yaml        # the Train tab on tickets_train_text

It listens on 127.0.0.1 unless --host says otherwise (GRADIO_SERVER_NAME is ignored: only an explicit argument
takes the board off loopback); the port is --port, else GRADIO_SERVER_PORT, else 7860.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from defaults import REPO_ROOT, TASK_FILE
from emotion_sft.board import RECIPE, launch
from emotion_sft.cli import UserError, run
from emotion_sft.task import Task

DEFAULT_PORT = 7860


def port_number(value: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1 to 65535)")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 to share it)"
    )
    parser.add_argument(
        "--port", type=port_number, help=f"port to listen on (default $GRADIO_SERVER_PORT, else {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="folder with dataset_info.json and data/ (default: this repo)"
    )
    parser.add_argument(
        "--recipe",
        type=Path,
        default=REPO_ROOT / RECIPE,
        help=f"training recipe the Train tab opens with (default {RECIPE})",
    )
    parser.add_argument(
        "--task",
        type=Path,
        default=TASK_FILE,
        help="task whose training split the Train tab picks, same kind as the recipe's (<name>_train_text or "
        f"<name>_train; default {TASK_FILE.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        value = os.environ.get("GRADIO_SERVER_PORT", "").strip() or str(DEFAULT_PORT)
        try:
            port = port_number(value)
        except argparse.ArgumentTypeError as error:
            raise UserError(f"GRADIO_SERVER_PORT: {error}") from None
    launch(args.root, Task.load(args.task), args.recipe, args.host, port)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
