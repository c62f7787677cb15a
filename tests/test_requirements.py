"""The pinned set is what is installed, LLaMA-Factory accepts it, and it avoids releases known to break it."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from conftest import REPO_ROOT

# Releases whose bug no CPU test of ours can see, with the reason.
KNOWN_BROKEN = {("transformers", "5.6.0"): "FlashAttention-2 crashes without attention sinks (transformers #45588)"}


def pins(name: str) -> dict[str, str]:
    lines = (REPO_ROOT / name).read_text().splitlines()
    return dict(m.groups() for line in lines if (m := re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)))


def test_installed_set_is_the_pinned_set():
    pinned = pins("requirements.txt")
    assert {name: version(name) for name in pinned} == pinned


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-gpu.txt"])
def test_no_pin_on_a_known_broken_release(name):
    broken = {pin: KNOWN_BROKEN[pin] for pin in pins(name).items() if pin in KNOWN_BROKEN}
    assert not broken


def test_llamafactory_accepts_the_installed_set(monkeypatch):
    from llamafactory.extras.misc import check_dependencies

    monkeypatch.delenv("DISABLE_VERSION_CHECK", raising=False)
    check_dependencies()  # raises on a version outside LLaMA-Factory's ranges
