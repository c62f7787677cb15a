"""LLaMA Board (LLaMA-Factory's Gradio web UI) set up for this project, offline and on loopback by default.

Differences from a bare `llamafactory-cli webui`, all so that it works here without typing paths or reaching
the internet:
- the dataset folder is the repo root, where `dataset_info.json` registers the splits of every task converted
  so far (LLaMA-Factory's board defaults to `data/`);
- the board's model picker is seeded with SmolLM2-135M-Instruct at `models/SmolLM2-135M-Instruct` (only when
  the user has no board config yet; `llamaboard_cache/user_config.yaml` is the board's own file);
- the Train tab opens with a recipe's settings (the CPU recipe, `examples/smollm2_lora_sft.yaml`, by default;
  read at launch), not LLaMA-Factory's GPU defaults (lr 5e-5, 3 epochs, cutoff 2048, the instruction dataset)
  that take hours on a CPU; recipe keys without a field of their own (default_system, use_cpu, ...) go to
  "Extra arguments". Its dataset is the task's (`Task`): the recipe's `<name>_train_text` (or `<name>_train`,
  with the instruction) becomes the same split and kind of the task the board is started for;
- it listens on 127.0.0.1 unless told otherwise, and says so when the port is taken instead of failing late;
- Gradio analytics, its version check and share links are off; the theme uses system fonts instead of
  Source Sans Pro from Google Fonts, and the page Gradio serves loses its hard-coded links to
  fonts.googleapis.com, fonts.gstatic.com and cdnjs (a preconnect and an optional iframe-resizer script),
  so the browser only ever talks to the board itself.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from emotion_sft.cli import UserError
from emotion_sft.converter import read_registry
from emotion_sft.fileio import write_text_atomic
from emotion_sft.precision import cpu_overrides
from emotion_sft.recipes import read_recipe
from emotion_sft.task import SPLITS, Task

BOARD_MODEL = "SmolLM2-135M-Instruct"  # a name in LLaMA-Factory's model list, so the template is preset
USER_CONFIG = Path("llamaboard_cache") / "user_config.yaml"  # relative to the board's working directory
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SHARE": "0", "HF_HUB_OFFLINE": "1"}
# Tags in Gradio's page template that make the browser connect to other hosts.
EXTERNAL_TAGS = re.compile(rb'<link\s+rel="preconnect"[^>]*>|<script\s+src="https?://[^"]*"[^>]*>\s*</script>')
RECIPE = Path("examples") / "smollm2_lora_sft.yaml"  # the Train tab's presets, relative to the checkout
# A converted split's registry name: <task name>_<split>, `_text` for the twin whose user turn is the text alone.
SPLIT_NAME = re.compile(rf"_({'|'.join(SPLITS)})(_text)?$")


def _datasets(value: Any) -> list[str]:
    return [name.strip() for name in str(value).split(",") if name.strip()]


def task_dataset(name: str, task: Task) -> str:
    """A recipe's dataset name made `task`'s, same split and kind: `emotion_train_text` -> `tickets_train_text`,
    `emotion_train` (instruction + text) -> `tickets_train`. A name of another shape is kept as it is."""
    match = SPLIT_NAME.search(name)
    return task.dataset_name(match[1], text_only=bool(match[2])) if match else name


def for_task(recipe: dict[str, Any], task: Task) -> dict[str, Any]:
    """`recipe` with its `dataset` and `eval_dataset` made `task`'s (see `task_dataset`)."""
    renamed = dict(recipe)
    for key in ("dataset", "eval_dataset"):
        if recipe.get(key):
            renamed[key] = ",".join(task_dataset(name, task) for name in _datasets(recipe[key]))
    return renamed


# Recipe keys with a field of their own in the board's Train tab: the field's id and the type it holds.
TRAIN_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "dataset_dir": ("train.dataset_dir", str),
    "dataset": ("train.dataset", _datasets),
    "learning_rate": ("train.learning_rate", str),
    "num_train_epochs": ("train.num_train_epochs", str),
    "max_samples": ("train.max_samples", str),
    "max_grad_norm": ("train.max_grad_norm", str),
    "cutoff_len": ("train.cutoff_len", int),
    "per_device_train_batch_size": ("train.batch_size", int),
    "gradient_accumulation_steps": ("train.gradient_accumulation_steps", int),
    "val_size": ("train.val_size", float),
    "lr_scheduler_type": ("train.lr_scheduler_type", str),
    "logging_steps": ("train.logging_steps", int),
    "save_steps": ("train.save_steps", int),
    "warmup_steps": ("train.warmup_steps", int),
    "report_to": ("train.report_to", str),
    "lora_rank": ("train.lora_rank", int),
    "lora_alpha": ("train.lora_alpha", int),
    "lora_dropout": ("train.lora_dropout", float),
    "lora_target": ("train.lora_target", str),
}
# Recipe keys the board sets from its own fields: the top bar (model, method, template), the stage, the output
# folder (one per run under saves/), the loss plot; the precision flags become the compute type below.
BOARD_KEYS = {"model_name_or_path", "stage", "do_train", "finetuning_type", "template", "output_dir"}
BOARD_KEYS |= {"overwrite_output_dir", "plot_loss", "bf16", "fp16", "pure_bf16"}
BOARD_EXTRA_ARGS = {"optim": "adamw_torch"}  # the board's own default "Extra arguments"


def train_presets(recipe: dict[str, Any], task: Task | None = None) -> dict[str, Any]:
    """Train tab field id -> value that sets LLaMA Board up to run `recipe` (a training YAML's keys), on the
    datasets of `task` when one is given (`for_task`)."""
    if task is not None:
        recipe = for_task(recipe, task)
    if cpu_overrides(recipe):  # fp32 on a CPU without fast bf16, as make runs the recipe there
        recipe = {**recipe, "bf16": False}
    presets: dict[str, Any] = {}
    extra = dict(BOARD_EXTRA_ARGS)
    for key, value in recipe.items():
        if key in TRAIN_FIELDS:
            field, kind = TRAIN_FIELDS[key]
            presets[field] = kind(value)
        elif key not in BOARD_KEYS:
            extra[key] = value
    precision = [p for p in ("pure_bf16", "bf16", "fp16") if recipe.get(p)]
    presets["train.compute_type"] = precision[0] if precision else "fp32"
    presets["train.extra_args"] = json.dumps(extra)
    return presets


def seed_user_config(root: Path, model_path: Path) -> bool:
    """Write the board's user config naming the CPU default model, unless the user already has one."""
    path = root / USER_CONFIG
    if path.exists():
        return False
    config = {
        "lang": "en",
        "hub_name": "huggingface",
        "last_model": BOARD_MODEL,
        "path_dict": {BOARD_MODEL: os.path.relpath(model_path, root)},
        "cache_dir": None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))
    return True


def create_board(presets: dict[str, Any] | None = None):
    """LLaMA Board's Blocks with this project's dataset folder, an offline theme and the fields in `presets`
    (field id -> value, see `train_presets`) set when the page opens (not launched)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    import gradio as gr

    # The board's tabs read DEFAULT_DATA_DIR when they are built; set it before they are imported.
    from llamafactory.webui import common

    common.DEFAULT_DATA_DIR = "."
    from llamafactory.webui import interface
    from llamafactory.webui.engine import Engine

    class PresetEngine(Engine):
        """The board's engine, whose page-load values (`resume`) also carry the presets."""

        def resume(self):
            updates = super().resume()
            first = next(updates)
            first.update({self.manager.get_elem_by_id(k): gr.update(value=v) for k, v in (presets or {}).items()})
            yield first
            yield from updates  # a run in progress: its own values win

    interface.Engine = PresetEngine  # create_ui builds its engine from this name
    try:
        demo = interface.create_ui()
    finally:
        interface.Engine = Engine
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"])
    demo.theme, demo.theme_css, demo.stylesheets = theme, theme._get_theme_css(), theme._stylesheets
    return demo


def create_app(demo):
    """A FastAPI app serving the board at /, with the external tags stripped from its HTML pages."""
    import gradio as gr
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.middleware("http")
    async def local_only(request, call_next):
        response = await call_next(request)
        if not response.headers.get("content-type", "").startswith("text/html"):
            return response
        body = EXTERNAL_TAGS.sub(b"", b"".join([chunk async for chunk in response.body_iterator]))
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(body, status_code=response.status_code, headers=headers)

    return gr.mount_gradio_app(app, demo.queue(), path="")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or UserError saying why not (the port is taken, no such address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a closed run's port is free
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is taken (another board or server?); pick another: --port, make webui PORT="
            ) from None
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def launch(root: Path, task: Task, recipe: Path, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve LLaMA Board on host:port until interrupted, from `root` (a folder with dataset_info.json), with
    the Train tab preset to `recipe` (a training YAML) on the datasets of `task`."""
    import uvicorn

    root = Path(root).resolve()
    registry_file = root / "dataset_info.json"
    if not registry_file.is_file():
        raise FileNotFoundError(f"{registry_file} not found; run `make data` first")
    presets = train_presets(read_recipe(recipe), task)  # the one recipe reader: errors name file and line
    registry = read_registry(registry_file)
    missing = [name for name in presets.get("train.dataset", []) if name not in registry]
    if missing:
        raise UserError(
            f"{registry_file}: no dataset {missing[0]} (the Train tab's, for task {task.name}); convert the "
            "task's data first: `make data TASK=...` or scripts/convert_dataset.py --task ..."
        )
    sock = listen(host, port)  # before anything is printed or built: a taken port fails here, in a second
    os.chdir(root)  # the board reads datasets and writes saves/ and llamaboard_* relative to its working dir
    if seed_user_config(root, root / "models" / BOARD_MODEL):
        print(f"LLaMA Board: model {BOARD_MODEL} preset to models/{BOARD_MODEL} ({root / USER_CONFIG})")
    app = create_app(create_board(presets))
    datasets = ", ".join(presets.get("train.dataset", []))
    print(f"LLaMA Board: Train tab preset to {recipe} on {datasets} (task {task.summary()})")
    print(f"LLaMA Board on http://{host}:{port} (datasets from {root / 'dataset_info.json'})", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
