"""A loopback server that speaks the OpenAI chat completions HTTP API, scripted per test.

No model is reachable from the tests, so this stands in for one: a real HTTP server on
127.0.0.1 that the real `openai` client talks to. It checks the bearer key (401 like
OpenAI), knows its models (404 `model_not_found`), records every request, and answers each
with what the test's script returns: text (structured output), tool calls, or an HTTP error.
Usage is counted from the request and reply sizes, so token accounting has real numbers.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_KEY = "sk-fake-key-for-tests-0123456789"
FAKE_MODEL = "fake-model"
_DATA = re.compile(r"<<<DATA\n(.*?)\nDATA>>>", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """What the scripted model says to one request."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish_reason: str | None = None
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def answer(body: dict[str, Any]) -> Reply:
    """A JSON answer (what a model under structured output returns)."""
    return Reply(content=json.dumps(body))


def call_tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    """Tool calls, as a model that wants evidence first returns them."""
    return Reply(tool_calls=list(calls))


def fail(status: int, message: str = "scripted failure", **headers: str) -> Reply:
    """An HTTP error with an OpenAI-style error body."""
    return Reply(status=status, error=message, headers=headers)


Script = Callable[["Request"], Reply]


@dataclass(frozen=True)
class Request:
    """One chat completion request as the server received it."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def agent(self) -> str:
        """The agent asking, from the structured output's name (`incidentflow_<agent>`)."""
        fmt = self.body.get("response_format") or {}
        name = str((fmt.get("json_schema") or {}).get("name", ""))
        if name.startswith("incidentflow_"):
            return name.removeprefix("incidentflow_")
        system = str(self.messages[0].get("content", "")) if self.messages else ""
        found = re.search(r"You are the (\w+)", system)
        return found.group(1) if found else "unknown"

    @property
    def data(self) -> Any:
        """The input between the DATA fences of the first user message, parsed."""
        user = next(m for m in self.messages if m.get("role") == "user")
        found = _DATA.search(str(user.get("content", "")))
        return json.loads(found.group(1)) if found else None

    @property
    def tool_results(self) -> list[Any]:
        """Every tool result so far, parsed where it is JSON."""
        out: list[Any] = []
        for m in self.messages:
            if m.get("role") == "tool":
                try:
                    out.append(json.loads(m.get("content", "")))
                except json.JSONDecodeError:
                    out.append(m.get("content"))
        return out

    @property
    def repairing(self) -> bool:
        """True when the last message sends a refused answer back."""
        last = self.messages[-1] if self.messages else {}
        return last.get("role") == "user" and "was refused" in str(last.get("content", ""))

    def text(self) -> str:
        """Everything the model was shown, as one string."""
        return "\n".join(str(m.get("content") or "") for m in self.messages)


class FakeOpenAI:
    """The server; `with FakeOpenAI(script) as fake:` serves on `fake.url` until the block ends."""

    def __init__(
        self, script: Script, *, api_key: str = FAKE_KEY, models: tuple[str, ...] = (FAKE_MODEL,)
    ) -> None:
        self.script = script
        self.api_key = api_key
        self.models = models
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to configure (`INCIDENTFLOW_LLM_BASE_URL`)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def by_agent(self, agent: str) -> list[Request]:
        """The requests one agent made, in order."""
        with self._lock:
            return [r for r in self.requests if r.agent == agent]

    def _respond(self, request: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided.", "invalid_api_key"), {}
        model = str(request.body.get("model", ""))
        if model not in self.models:
            return 404, _error(f"The model `{model}` does not exist.", "model_not_found"), {}
        reply = self.script(request)
        if reply.status != 200:
            return reply.status, _error(reply.error, "scripted"), reply.headers
        return 200, _completion(request, reply, model), {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(size) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not self.path.endswith("/chat/completions"):
                    self._send(404, _error(f"no route {self.path}", "not_found"), {})
                    return
                request = Request(body=body, headers=headers)
                with fake._lock:
                    fake.requests.append(request)
                status, doc, extra = fake._respond(request)
                self._send(status, doc, extra)

            def _send(self, status: int, doc: dict[str, Any], extra: dict[str, str]) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for key, value in extra.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                # The client may have given up first (a timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(raw)

        return Handler


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


_ids: Iterator[int] = iter(range(1, 10**9))


def _completion(request: Request, reply: Reply, model: str) -> dict[str, Any]:
    n = next(_ids)
    calls = [
        {
            "id": f"call_{n}_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if calls:
        message["tool_calls"] = calls
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    prompt = len(json.dumps(request.body.get("messages", []))) // 4
    completion = len(reply.content or json.dumps([c["function"] for c in calls])) // 4
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
