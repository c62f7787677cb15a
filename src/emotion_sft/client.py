"""Client for a fine-tuned model served by `llamafactory-cli api` (OpenAI-compatible chat completions).

The client knows no labels of its own: it takes the `Task` the model was trained on. Each sentence is sent as
the user turn the model was trained on (`Task.user_message`: the text alone for the CPU recipe, the task's
instruction + newline + text for the paper's); the server's inference recipe supplies the template and the
system prompt. The answer goes through the project's parser with the task's labels and label words, so the
client returns one of the task's labels (or `unparsed`).

`make serve` requires an API key by default: made once by `ensure_api_key` into `saves/api_key` (readable by
the user alone) and read from there by `scripts/classify_api.py`, so a web page in the user's browser cannot
drive the local model (the API answers any origin).
"""

from __future__ import annotations

import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from tqdm.auto import tqdm

from .cli import UserError
from .fileio import write_text_atomic
from .parser import parse_label
from .task import Task

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0  # seconds per request: a CPU answers one sentence in well under a second
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SERVE_HINT = (
    "start one with `make serve` (API_HOST=127.0.0.1 API_KEY=... llamafactory-cli api "
    "examples/inference/smollm2_lora_sft.yaml)"
)


class APIError(RuntimeError):
    """The server could not be reached, or it answered with an error or something that is not a completion."""


@dataclass(frozen=True)
class Classification:
    text: str
    answer: str  # what the model generated
    label: str  # parsed label, or parser.UNPARSED


def chat_completions_url(base_url: str) -> str:
    """The chat completions endpoint under a server's base URL, given with or without `/v1` (and a final /)."""
    base = base_url.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        base = base.removesuffix("/chat/completions").rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


def read_api_key(path: Path) -> str | None:
    """The key in `path` (written by `ensure_api_key`), or None when there is no such file."""
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def ensure_api_key(path: Path) -> str:
    """The serving key in `path`, made once (random, URL-safe) in a file only its owner can read or write."""
    path = Path(path)
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserError(f"{path}: others may read this API key; `chmod 600 {path}` or delete it for a new one")
        key = read_api_key(path)
        if key:
            return key
    key = secrets.token_urlsafe(32)
    write_text_atomic(path, key + "\n", mode=0o600)  # only its owner may read it, from the first moment
    return key


class ClassifierClient:
    """Classify sentences with a model served by `llamafactory-cli api` that was trained on `task`."""

    def __init__(
        self,
        base_url: str,
        task: Task,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        instruction: bool = False,
    ):
        self.task = task
        self.instruction = instruction  # True for adapters trained on the instruction datasets (<name>_train)
        self.url = chat_completions_url(base_url)
        self.timeout = timeout
        self.session = requests.Session()
        if urlsplit(self.url).hostname in LOOPBACK:
            self.session.trust_env = False  # an HTTP(S)_PROXY must not carry sentences and key off the machine
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def classify_one(self, text: str) -> Classification:
        if not text.strip():
            raise ValueError("cannot classify an empty sentence")
        message = self.task.user_message(text, self.instruction)
        body = {"model": self.task.name, "messages": [{"role": "user", "content": message}]}
        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.Timeout:
            raise APIError(f"{self.url} did not answer within {self.timeout:g} s (--timeout to wait longer)") from None
        except requests.ConnectionError:
            raise APIError(f"no API server at {self.url}; {SERVE_HINT}") from None
        except requests.RequestException as error:
            raise APIError(f"cannot reach {self.url}: {error}") from None
        if response.status_code == 401:
            raise APIError(
                f"{self.url} answered 401 (wrong or missing API key): give the server's key with --api-key or "
                "API_KEY (`make serve` keeps it in saves/api_key)"
            )
        if not response.ok:
            raise APIError(f"{self.url} answered {response.status_code}: {_excerpt(response.text)}")
        answer = self._answer(response)
        return Classification(text, answer, parse_label(answer, self.task))

    def _answer(self, response: requests.Response) -> str:
        """The generated text of a chat completion, or APIError saying what came back instead."""
        try:
            reply = response.json()
        except ValueError:
            kind = response.headers.get("content-type") or "no content type"
            raise APIError(
                f"{self.url} answered something that is not JSON ({kind}): {_excerpt(response.text)}"
            ) from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            message = f"{self.url} answered JSON without choices[0].message.content: {_excerpt(response.text)}"
            raise APIError(message) from None
        if not isinstance(content, str):
            raise APIError(f"{self.url} answered a completion with {content!r} content: {_excerpt(response.text)}")
        return content

    def classify(self, texts: Iterable[str], progress: bool = True) -> list[Classification]:
        texts = list(texts)
        return [self.classify_one(t) for t in tqdm(texts, desc="classify", unit="sentence", disable=not progress)]


def _excerpt(text: str, limit: int = 300) -> str:
    """A reply's text on one line, cut to `limit` characters."""
    text = " ".join(text.split()) or "(empty)"
    return text if len(text) <= limit else text[:limit] + "..."
