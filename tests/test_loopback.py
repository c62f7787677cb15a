"""Every server command the project shows stays on 127.0.0.1 and `make serve` asks for a key, unless the user
says otherwise on the command line (`make -n` prints the commands without running them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")

# What some shells and setups export: tcsh sets HOST to the machine's name, others to 0.0.0.0.
LEAKY_ENV = {"HOST": "0.0.0.0", "PORT": "1", "API_PORT": "2", "GRADIO_SERVER_NAME": "0.0.0.0"}


def make_n(*args: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "API_KEY"} | env
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *args], cwd=REPO_ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def command(output: str, program: str) -> str:
    """The (backslash-continued) command line in `output` that runs `program`."""
    joined = re.sub(r"\\\n\s*", " ", output)
    return next(line for line in joined.splitlines() if program in line)


def test_make_webui_ignores_host_and_port_in_the_environment():
    line = command(make_n("webui", **LEAKY_ENV), "scripts/webui.py")
    assert "--host 127.0.0.1 --port 7860" in line
    line = command(make_n("webui", "HOST=0.0.0.0", "PORT=7861", **LEAKY_ENV), "scripts/webui.py")
    assert "--host 0.0.0.0 --port 7861" in line  # the command line moves it


def test_make_serve_stays_on_loopback_with_a_key_file():
    output = make_n("serve", **LEAKY_ENV)
    line = command(output, "llamafactory-cli api")
    assert "API_HOST=127.0.0.1 API_PORT=8000" in line and 'API_KEY="$key"' in line
    assert 'key="$(.venv/bin/python scripts/classify_api.py --print-key --api-key-file saves/api_key)"' in output
    line = command(make_n("serve", "HOST=0.0.0.0", "API_PORT=8001", **LEAKY_ENV), "llamafactory-cli api")
    assert "API_HOST=0.0.0.0 API_PORT=8001" in line


def test_make_serve_without_a_key_only_when_asked():
    assert "key=''" in make_n("serve", "API_KEY=") and "NO API KEY" in make_n("serve", "API_KEY=")
    assert "--print-key" in make_n("serve", API_KEY="")  # an empty API_KEY in the environment is not asking
    assert "key='mine'" in make_n("serve", API_KEY="mine")  # one exported for the client serves too


@pytest.mark.parametrize(
    "path", ["README.md", "examples/inference/llama3_lora_sft.yaml", "examples/inference/smollm2_lora_sft.yaml"]
)
def test_every_api_command_shown_binds_loopback_with_a_key(path):
    text = re.sub(r"\\\n#?\s*", " ", (REPO_ROOT / path).read_text())  # join continued lines (in comments too)
    commands = [line for line in text.splitlines() if re.search(r"llamafactory-cli api \S+\.yaml", line)]
    assert commands
    for line in commands:
        assert "API_HOST=127.0.0.1" in line and "API_KEY=" in line, line
