"""Client for a fine-tuned model served by `llamafactory-cli api` (OpenAI-compatible chat completions).

Each sentence is sent as the same user turn the model was trained on (the text alone for the CPU recipe,
instruction + newline + text for the paper's); the server's inference recipe supplies the template and the
system prompt. The answer goes through the project's parser, so the client returns one of the labels (or
`unparsed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import requests
from tqdm.auto import tqdm

from .labels import user_message
from .parser import parse_label

DEFAULT_URL = "http://127.0.0.1:8000"


class APIError(RuntimeError):
    """The server could not be reached, or it answered with an error."""


@dataclass(frozen=True)
class Classification:
    text: str
    answer: str  # what the model generated
    label: str  # parsed label, or parser.UNPARSED


class EmotionClient:
    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 120.0, instruction: bool = False
    ):
        self.instruction = instruction  # True for adapters trained on the instruction datasets (emotion_train)
        self.url = base_url.rstrip("/") + "/v1/chat/completions"
        self.timeout = timeout
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def classify_one(self, text: str) -> Classification:
        if not text.strip():
            raise ValueError("cannot classify an empty sentence")
        body = {"model": "emotion-sft", "messages": [{"role": "user", "content": user_message(text, self.instruction)}]}
        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.ConnectionError as error:
            raise APIError(
                f"no API server at {self.url}; start one with `make serve` "
                "(llamafactory-cli api examples/inference/smollm2_lora_sft.yaml)"
            ) from error
        if not response.ok:
            raise APIError(f"{self.url} answered {response.status_code}: {response.text[:500]}")
        answer = response.json()["choices"][0]["message"]["content"]
        return Classification(text, answer, parse_label(answer))

    def classify(self, texts: Iterable[str], progress: bool = True) -> list[Classification]:
        texts = list(texts)
        return [self.classify_one(t) for t in tqdm(texts, desc="classify", unit="sentence", disable=not progress)]
