"""LLaMA Board in a real headless Chromium: the emotion datasets are listed and previewed, the Train tab opens with
the CPU recipe's settings (on the task's own dataset for another task), nothing leaves loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import EMOTION, REPO_ROOT, convert_sample, free_port, serving
from emotion_sft.board import EXTERNAL_TAGS, RECIPE, seed_user_config, task_dataset, train_presets
from emotion_sft.precision import cpu_bf16
from emotion_sft.task import SPLITS, Task

# A made-up task: support tickets routed to a queue.
TICKETS = Task.from_dict(
    {"name": "tickets", "labels": ["billing", "outage", "account"], "instruction": "Route this ticket to a queue."}
)

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


def webui(*args) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, REPO_ROOT / "scripts" / "webui.py", *args]
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, timeout=120)


def test_webui_names_a_bad_port_in_the_environment(tmp_path):
    (tmp_path / "dataset_info.json").write_text("{}")
    for value in ("abc", "0", "70000"):
        result = subprocess.run(
            [sys.executable, REPO_ROOT / "scripts" / "webui.py", "--root", tmp_path],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "GRADIO_SERVER_PORT": value},
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr == f"error: GRADIO_SERVER_PORT: {value!r} is not a port number (1 to 65535)\n"
    result = webui("--root", tmp_path, "--port", "abc")
    assert result.returncode == 2 and "argument --port: 'abc' is not a port number" in result.stderr


def test_webui_says_the_port_is_taken_before_printing_its_url(tmp_path):
    shutil.copy(REPO_ROOT / "dataset_info.json", tmp_path)  # the emotion datasets registered
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = webui("--root", tmp_path, "--port", port)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: port {port} on 127.0.0.1 is taken"), result.stderr
    assert "http://" not in result.stdout  # no URL for a board that never starts


def test_train_presets_carry_the_cpu_recipe():
    recipe = yaml.safe_load((REPO_ROOT / RECIPE).read_text())
    presets = train_presets(recipe)
    assert presets["train.dataset"] == [recipe["dataset"]]
    assert float(presets["train.learning_rate"]) == recipe["learning_rate"]
    assert float(presets["train.num_train_epochs"]) == recipe["num_train_epochs"]
    assert presets["train.cutoff_len"] == recipe["cutoff_len"]
    assert presets["train.batch_size"] == recipe["per_device_train_batch_size"]
    assert presets["train.gradient_accumulation_steps"] == recipe["gradient_accumulation_steps"]
    assert int(presets["train.max_samples"]) == recipe["max_samples"]
    # the recipe's bf16, or fp32 on a CPU without fast bf16 (as make runs it there)
    assert presets["train.compute_type"] == ("bf16" if cpu_bf16() else "fp32")
    # Keys the board has no field for reach `llamafactory-cli train` through its "Extra arguments".
    extra = json.loads(presets["train.extra_args"])
    assert extra["default_system"] == "" and extra["use_cpu"] is True
    assert extra["train_sampling_strategy"] == recipe["train_sampling_strategy"]
    assert "output_dir" not in extra and "model_name_or_path" not in extra  # the board names its own


@pytest.mark.parametrize(
    ("recipe", "dataset"),
    [("smollm2_lora_sft.yaml", "tickets_train_text"), ("llama3_lora_sft.yaml", "tickets_train")],
)
def test_train_presets_pick_the_tasks_dataset_of_the_recipes_kind(recipe, dataset):
    recipe = yaml.safe_load((REPO_ROOT / "examples" / recipe).read_text())
    assert train_presets(recipe, EMOTION) == train_presets(recipe)  # the recipes are the emotion task's
    presets = train_presets(recipe, TICKETS)
    assert presets["train.dataset"] == [dataset]  # the same kind: the text alone, or instruction + text
    extra = json.loads(presets["train.extra_args"])
    assert all("emotion" not in str(value) for value in extra.values()), extra  # eval_dataset too
    if "eval_dataset" in recipe:
        assert extra["eval_dataset"] == "tickets_validation"


def test_task_dataset_keeps_split_and_kind():
    assert [task_dataset(name, TICKETS) for name in ("emotion_test_text", "emotion_validation", "my_set")] == [
        "tickets_test_text",
        "tickets_validation",
        "my_set",  # not a converted split: kept
    ]


def test_webui_refuses_a_task_whose_data_is_not_converted(tmp_path):
    shutil.copy(REPO_ROOT / "dataset_info.json", tmp_path)
    TICKETS.save(tmp_path)
    result = webui("--root", tmp_path, "--task", tmp_path / "task.yaml", "--port", free_port())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / 'dataset_info.json'}: no dataset tickets_train_text")
    assert "make data TASK=" in result.stderr and "http://" not in result.stdout
    (tmp_path / "bad.yaml").write_text("name: tickets\n")
    result = webui("--root", tmp_path, "--task", tmp_path / "bad.yaml", "--port", free_port())
    assert result.returncode == 1 and result.stderr.startswith(f"error: {tmp_path / 'bad.yaml'}")


@pytest.fixture(scope="module")
def board(emotion_dir, tmp_path_factory):
    """scripts/webui.py serving a converted sample of the real data on a free port, with no --host given and
    GRADIO_SERVER_NAME naming another address (127.0.0.2, on loopback too) that the board must not follow."""
    root = convert_sample(emotion_dir, tmp_path_factory.mktemp("board"), 40, 12, 12)
    port = free_port()
    command = [sys.executable, REPO_ROOT / "scripts" / "webui.py", "--port", port]
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.2"}
    with serving([*command, "--root", root], url, root / "board.log", env) as process:
        yield root, url, process


@pytest.mark.slow
def test_board_listens_on_loopback_whatever_the_environment_says(board):
    root, url, process = board
    connections = psutil.Process(process.pid).net_connections(kind="inet")
    listening = [c.laddr for c in connections if c.status == psutil.CONN_LISTEN]
    assert [address.ip for address in listening] == ["127.0.0.1"], listening
    assert f"LLaMA Board on {url.rstrip('/')}" in (root / "board.log").read_text()


@pytest.mark.slow
def test_board_lists_and_previews_the_emotion_dataset(board):
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).is_file():
        message = "Chromium not found: apt-get install chromium (CI installs it in .ci/run)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    root, url, _ = board
    recipe = yaml.safe_load((REPO_ROOT / RECIPE).read_text())
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
            # The model picker is preset to the CPU default, by path (set by the page's load event: wait for it).
            expect(page.get_by_label("Model path")).to_have_value("models/SmolLM2-135M-Instruct", timeout=30_000)
            # The Train tab holds the CPU recipe's settings, not LLaMA-Factory's GPU defaults (hidden tabs' fields
            # have no role, so these are the Train tab's).
            field = lambda name: page.get_by_role("textbox", name=name)  # noqa: E731
            expect(field("Learning rate")).to_have_value(str(recipe["learning_rate"]), timeout=30_000)
            assert float(field("Epochs").input_value()) == recipe["num_train_epochs"]
            assert int(field("Max samples").input_value()) == recipe["max_samples"]
            for label, key in [
                ("Cutoff length", "cutoff_len"),
                ("Batch size", "per_device_train_batch_size"),
                ("Gradient accumulation", "gradient_accumulation_steps"),
            ]:
                number = page.get_by_role("spinbutton", name=f"number input for {label}")
                assert int(number.input_value()) == recipe[key], label
            expect(page.get_by_role("button", name=re.compile(r"^Remove "))).to_have_count(1)  # one dataset chosen,
            expect(page.get_by_role("button", name=f"Remove {recipe['dataset']}", exact=True)).to_be_visible()  # this
            page.get_by_role("button", name=re.compile(r"^Extra configurations")).click()
            extra = json.loads(field("Extra arguments").input_value())
            assert extra["default_system"] == "" and extra["use_cpu"] is True
            page.screenshot(path=ARTIFACTS / "llamaboard_train_presets.png")
            page.get_by_role("textbox", name=re.compile(r"^Dataset\b")).click()
            options = page.get_by_role("option")
            options.first.wait_for()
            names = [f"emotion_{split}{kind}" for kind in ("", "_text") for split in ("train", "validation", "test")]
            assert [name.strip() for name in options.all_inner_texts()] == names
            page.keyboard.press("Escape")
            page.get_by_role("button", name="Preview dataset").click()
            page.get_by_text(first["input"]).first.wait_for(timeout=30_000)  # a real sentence from train.txt
            page.screenshot(path=ARTIFACTS / "llamaboard_dataset_preview.png")
        finally:
            browser.close()
    offsite = [u for u in requested if not u.startswith(url) and not u.startswith("data:")]
    assert requested and not offsite, offsite


@pytest.mark.slow
def test_board_for_another_task_opens_on_its_training_split(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).is_file():
        message = "Chromium not found: apt-get install chromium (CI installs it in .ci/run)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    source = tmp_path / "tickets"
    source.mkdir()
    rows = [("I was charged twice", "billing"), ("the site is down", "outage"), ("reset my password", "account")]
    for split in ("train", "validation", "test"):
        lines = ["text,label", *(f"{text} ({split} {i}),{label}" for i in range(2) for text, label in rows)]
        (source / f"{split}.csv").write_text("\n".join(lines) + "\n")
    task = TICKETS.save(tmp_path)
    converted = subprocess.run(
        [sys.executable, REPO_ROOT / "scripts" / "convert_dataset.py", "--task", task, "--source", source,
         "--output-dir", tmp_path / "data", "--dataset-info", tmp_path / "dataset_info.json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, REPO_ROOT / "scripts" / "webui.py", "--port", port, "--root", tmp_path, "--task", task]
    with serving(command, url, tmp_path / "board.log"):
        assert " on tickets_train_text (task tickets" in (tmp_path / "board.log").read_text()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                page.get_by_role("tab", name="Train").click()
                remove = page.get_by_role("button", name=re.compile(r"^Remove "))
                expect(remove).to_have_count(1, timeout=30_000)
                expect(page.get_by_role("button", name="Remove tickets_train_text", exact=True)).to_be_visible()
                page.get_by_role("textbox", name=re.compile(r"^Dataset\b")).click()
                options = page.get_by_role("option")
                options.first.wait_for()
                names = [TICKETS.dataset_name(split, text_only) for text_only in (False, True) for split in SPLITS]
                assert [name.strip() for name in options.all_inner_texts()] == names
            finally:
                browser.close()
