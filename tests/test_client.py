"""The API client and classify_api.py against a stand-in server on loopback that answers what each test says.

The stand-in is a tiny http.server: it is the client under test here (URLs, keys, timeouts, and replies that
are not completions); tests/test_pipeline.py classifies through a real `llamafactory-cli api`.
"""

from __future__ import annotations

import json
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import EMOTION, TICKETS, free_port, run_script
from emotion_sft.client import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    APIError,
    ClassifierClient,
    chat_completions_url,
    ensure_api_key,
)
from emotion_sft.parser import UNPARSED
from emotion_sft.task import Task

COMPLETION = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "joy"}}]}


class StandIn:
    """An HTTP server on 127.0.0.1 that records each request and answers (status, content type, body, delay)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (200, "application/json", json.dumps(COMPLETION), 0.0)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                stand_in.requests.append(
                    {"path": self.path, "authorization": self.headers.get("authorization"), "body": body}
                )
                status, content_type, text, delay = stand_in.reply
                time.sleep(delay)
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    with StandIn() as stand_in:
        yield stand_in


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1/chat/completions"])
def test_base_url_with_or_without_v1(suffix):
    assert chat_completions_url("http://127.0.0.1:8000" + suffix) == "http://127.0.0.1:8000/v1/chat/completions"


def test_script_accepts_the_url_openai_clients_use(api):
    result = run_script("classify_api.py", "--url", api.url + "/v1/", "--api-key", "k", "what a lovely day")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "joy\twhat a lovely day\n"
    assert [r["path"] for r in api.requests] == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ((200, "text/html", "<html>proxy login</html>", 0), "answered something that is not JSON (text/html): <html>"),
        ((200, "application/json", '{"error": "busy"}', 0), 'without choices[0].message.content: {"error": "busy"}'),
        ((200, "application/json", '{"choices": []}', 0), "without choices[0].message.content"),
        (
            (200, "application/json", '{"choices": [{"message": {"role": "assistant", "content": null}}]}', 0),
            "a completion with None content",
        ),
        ((500, "text/plain", "out of memory", 0), "answered 500: out of memory"),
        ((401, "application/json", '{"detail": "Invalid API key."}', 0), "answered 401 (wrong or missing API key)"),
    ],
    ids=["html", "no-choices", "empty-choices", "null-content", "500", "401"],
)
def test_script_names_the_url_and_what_it_answered(api, reply, says):
    api.reply = reply
    result = run_script("classify_api.py", "--url", api.url, "--api-key", "k", "hello")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {api.url}/v1/chat/completions ") and says in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_client_gives_up_on_a_server_that_never_answers(api):
    api.reply = (200, "application/json", json.dumps(COMPLETION), 30.0)
    started = time.monotonic()
    result = run_script("classify_api.py", "--url", api.url, "--timeout", "0.5", "--api-key", "k", "hello")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr
        == f"error: {api.url}/v1/chat/completions did not answer within 0.5 s (--timeout to wait longer)\n"
    )
    assert time.monotonic() - started < 5 + 10  # the interpreter's start, not the server's delay
    assert 0 < DEFAULT_TIMEOUT <= 60 and ClassifierClient(DEFAULT_URL, EMOTION).timeout == DEFAULT_TIMEOUT


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf"])
def test_script_refuses_a_bad_timeout(value):
    result = run_script("classify_api.py", "--timeout", value, "hello")
    assert result.returncode == 2 and "argument --timeout: " in result.stderr and "Traceback" not in result.stderr


def test_loopback_requests_skip_the_environments_proxy(api, monkeypatch):
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = run_script("classify_api.py", "--url", api.url, "--api-key", "k", "hello")
    assert result.returncode == 0, result.stderr
    assert api.requests and api.requests[0]["path"] == "/v1/chat/completions"


def test_missing_server_is_named_with_a_loopback_command():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(APIError) as error:
        ClassifierClient(url, EMOTION).classify_one("hello")
    message = str(error.value)
    assert f"no API server at {url}/v1/chat/completions" in message and "make serve" in message
    assert "API_HOST=127.0.0.1" in message  # never plain `llamafactory-cli api`, which binds 0.0.0.0


def test_serving_key_is_made_once_readable_by_the_user_alone(tmp_path):
    path = tmp_path / "saves" / "api_key"
    result = run_script("classify_api.py", "--print-key", "--api-key-file", path)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert len(key) >= 32 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_api_key(path) == key  # the same key every time
    path.chmod(0o644)
    result = run_script("classify_api.py", "--print-key", "--api-key-file", path)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {path}: others may read this API key")


def test_script_sends_the_key_from_the_key_file(api, tmp_path, monkeypatch):
    path = tmp_path / "api_key"
    key = ensure_api_key(path)
    monkeypatch.delenv("API_KEY", raising=False)
    result = run_script("classify_api.py", "--url", api.url, "--api-key-file", path, "hello")
    assert result.returncode == 0, result.stderr
    assert api.requests[0]["authorization"] == f"Bearer {key}"
    result = run_script("classify_api.py", "--url", api.url, "--api-key", "mine", "--api-key-file", path, "hello")
    assert api.requests[1]["authorization"] == "Bearer mine"


def completion(content: str) -> tuple[int, str, str, float]:
    return 200, "application/json", json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}), 0


@pytest.fixture
def tickets(tmp_path):
    path = tmp_path / "tickets.yaml"
    path.write_text(yaml.safe_dump(TICKETS))
    return path


@pytest.mark.parametrize(
    ("answer", "label"),
    [("outage", "outage"), ("Queue: Billing.<|im_end|>", "billing"), ("a refund", "billing"), ("login", "account"),
     ("joy", UNPARSED), ("billing or outage", UNPARSED)],
)  # fmt: skip
def test_client_reads_answers_with_the_tasks_labels(api, answer, label):
    api.reply = completion(answer)
    result = ClassifierClient(api.url, Task.from_dict(TICKETS), "k").classify_one("the site is down again")
    assert (result.text, result.answer, result.label) == ("the site is down again", answer, label)


def test_client_sends_the_tasks_user_turn(api):
    task = Task.from_dict(TICKETS)
    ClassifierClient(api.url, task, "k").classify_one("my invoice is wrong")
    ClassifierClient(api.url, task, "k", instruction=True).classify_one("my invoice is wrong")
    turns = [json.loads(r["body"])["messages"] for r in api.requests]
    assert turns[0] == [{"role": "user", "content": "my invoice is wrong"}]  # the text alone, as the CPU recipe
    assert turns[1] == [{"role": "user", "content": "Route this support ticket to a queue.\nmy invoice is wrong"}]


def test_script_classifies_with_the_task_file_or_the_adapters_task(api, tickets, tmp_path):
    api.reply = completion("the queue is billing")
    result = run_script("classify_api.py", "--task", tickets, "--url", api.url, "--api-key", "k", "refund me", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "billing\trefund me\nbilling\thi\n"
    adapter = tmp_path / "sft"
    adapter.mkdir()
    Task.load(tickets).save(adapter)  # task.yaml, as `make train` leaves it beside the adapter
    api.reply = completion("password reset")
    result = run_script("classify_api.py", "--task", adapter, "--url", api.url, "--api-key", "k", "locked out")
    assert result.returncode == 0 and result.stdout == "account\tlocked out\n", result.stderr
    api.reply = completion("joy")  # an emotion label means nothing to this task
    result = run_script("classify_api.py", "--task", tickets, "--url", api.url, "--api-key", "k", "hello")
    assert result.returncode == 0 and result.stdout == f"{UNPARSED}\thello\n", result.stderr


def test_script_refuses_a_bad_task_file_before_any_request(api, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tickets\nlabels: [billing]\ninstruction: Route it.\n")
    result = run_script("classify_api.py", "--task", bad, "--url", api.url, "--api-key", "k", "hello")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {bad}") and "labels" in result.stderr
    result = run_script("classify_api.py", "--task", tmp_path / "none.yaml", "--url", api.url, "hello")
    assert result.returncode == 1 and "none.yaml" in result.stderr and "Traceback" not in result.stderr
    assert api.requests == []
