"""LLaMA Board in a real headless Chromium: the emotion datasets are listed and previewed, nothing leaves loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import convert_sample, free_port, serving
from emotion_sft.board import EXTERNAL_TAGS, seed_user_config
from emotion_sft.paths import REPO_ROOT

# Screenshots land here (CI keeps the folder as an artifact); override with TEST_ARTIFACTS.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that keep Chromium itself from calling home (component updates, sync, field trials).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_external_tags_pattern_strips_gradios_links():
    page = (
        b'<link rel="preconnect" href="https://fonts.googleapis.com" />\n<link\n\trel="preconnect"\n'
        b'\thref="https://fonts.gstatic.com"\n\tcrossorigin="anonymous"\n/>\n<script\n\tsrc="https://cdnjs.'
        b'cloudflare.com/a.js"\n\tasync\n></script><script src="./assets/index.js"></script>'
    )
    assert EXTERNAL_TAGS.sub(b"", page).strip() == b'<script src="./assets/index.js"></script>'


def test_seed_user_config_presets_the_model_once(tmp_path):
    assert seed_user_config(tmp_path, tmp_path / "models" / "SmolLM2-135M-Instruct")
    config = (tmp_path / "llamaboard_cache" / "user_config.yaml").read_text()
    assert "last_model: SmolLM2-135M-Instruct" in config and "models/SmolLM2-135M-Instruct" in config
    assert not seed_user_config(tmp_path, tmp_path / "elsewhere")  # the user's own config is kept
    assert (tmp_path / "llamaboard_cache" / "user_config.yaml").read_text() == config


def test_webui_refuses_a_folder_without_a_registry(tmp_path):
    result = subprocess.run(
        [sys.executable, REPO_ROOT / "scripts" / "webui.py", "--root", tmp_path, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "dataset_info.json not found" in result.stderr


@pytest.fixture(scope="module")
def board(emotion_dir, tmp_path_factory):
    """scripts/webui.py serving a converted sample of the real data on a free loopback port."""
    root = convert_sample(emotion_dir, tmp_path_factory.mktemp("board"), 40, 12, 12)
    port = free_port()
    command = [sys.executable, REPO_ROOT / "scripts" / "webui.py", "--host", "127.0.0.1", "--port", port]
    url = f"http://127.0.0.1:{port}/"
    with serving([*command, "--root", root], url, root / "board.log"):
        yield root, url


@pytest.mark.slow
def test_board_lists_and_previews_the_emotion_dataset(board):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        message = "Chromium not found: apt-get install chromium (CI installs it in .ci/run)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    root, url = board
    first = json.loads((root / "data" / "emotion_train.json").read_text())[0]
    requested: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(url)
            page.get_by_role("tab", name="Train").click()
            # The model picker is preset to the CPU default, by path.
            assert page.get_by_label("Model path").input_value() == "models/SmolLM2-135M-Instruct"
            page.get_by_label("Dataset", exact=True).first.click()  # the Train tab's (Evaluate has one too)
            options = page.get_by_role("option")
            options.first.wait_for()
            names = [f"emotion_{split}{kind}" for kind in ("", "_text") for split in ("train", "validation", "test")]
            assert options.all_inner_texts() == names
            page.get_by_role("option", name="emotion_train_text", exact=True).click()  # the CPU recipe's
            page.keyboard.press("Escape")
            page.get_by_role("button", name="Preview dataset").click()
            page.get_by_text(first["input"]).first.wait_for(timeout=30_000)  # a real sentence from train.txt
            page.screenshot(path=ARTIFACTS / "llamaboard_dataset_preview.png")
        finally:
            browser.close()
    offsite = [u for u in requested if not u.startswith(url) and not u.startswith("data:")]
    assert requested and not offsite, offsite
