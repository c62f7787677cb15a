"""LLaMA Board (LLaMA-Factory's Gradio web UI) set up for this project, offline and on loopback by default.

Differences from a bare `llamafactory-cli webui`, all so that it works here without typing paths or reaching
the internet:
- the dataset folder is the repo root, where `dataset_info.json` registers the emotion splits
  (LLaMA-Factory's board defaults to `data/`);
- the board's model picker is seeded with SmolLM2-135M-Instruct at `models/SmolLM2-135M-Instruct` (only when
  the user has no board config yet; `llamaboard_cache/user_config.yaml` is the board's own file);
- Gradio analytics, its version check and share links are off; the theme uses system fonts instead of
  Source Sans Pro from Google Fonts, and the page Gradio serves loses its hard-coded links to
  fonts.googleapis.com, fonts.gstatic.com and cdnjs (a preconnect and an optional iframe-resizer script),
  so the browser only ever talks to the board itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from emotion_sft.fileio import write_text_atomic
from emotion_sft.paths import MODELS_DIR, REPO_ROOT

BOARD_MODEL = "SmolLM2-135M-Instruct"  # a name in LLaMA-Factory's model list, so the template is preset
USER_CONFIG = Path("llamaboard_cache") / "user_config.yaml"  # relative to the board's working directory
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SHARE": "0", "HF_HUB_OFFLINE": "1"}
# Tags in Gradio's page template that make the browser connect to other hosts.
EXTERNAL_TAGS = re.compile(rb'<link\s+rel="preconnect"[^>]*>|<script\s+src="https?://[^"]*"[^>]*>\s*</script>')


def seed_user_config(root: Path = REPO_ROOT, model_path: Path = MODELS_DIR / BOARD_MODEL) -> bool:
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


def create_board():
    """LLaMA Board's Blocks with this project's dataset folder and an offline theme (not launched)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    import gradio as gr

    # The board's tabs read DEFAULT_DATA_DIR when they are built; set it before they are imported.
    from llamafactory.webui import common

    common.DEFAULT_DATA_DIR = "."
    from llamafactory.webui.interface import create_ui

    demo = create_ui()
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


def launch(host: str = "127.0.0.1", port: int = 7860, root: Path = REPO_ROOT) -> None:
    """Serve LLaMA Board on host:port until interrupted, from `root` (a folder with dataset_info.json)."""
    import uvicorn

    root = Path(root).resolve()
    if not (root / "dataset_info.json").is_file():
        raise FileNotFoundError(f"{root / 'dataset_info.json'} not found; run `make data` first")
    os.chdir(root)  # the board reads datasets and writes saves/ and llamaboard_* relative to its working dir
    if seed_user_config(root, root / "models" / BOARD_MODEL):
        print(f"LLaMA Board: model {BOARD_MODEL} preset to models/{BOARD_MODEL} ({root / USER_CONFIG})")
    app = create_app(create_board())
    print(f"LLaMA Board on http://{host}:{port} (datasets from {root / 'dataset_info.json'})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
