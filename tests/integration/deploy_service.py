"""A loopback deploy service: the kind of HTTP API a rollback goes through (Argo CD, Spinnaker,
an in-house deployer). It keeps the running version of each service and really changes it.

`POST /v1/services/<service>/rollback` with `{"to": "<version>", "from": "<version>"}` moves
the service to `to` when it runs `from` (409 otherwise); each Idempotency-Key takes effect
once, and a body whose HMAC signature is wrong is refused with 401.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ROLLBACK = re.compile(r"^/v1/services/([\w.-]+)/rollback$")


class DeployService:
    """Versions per service, changed by signed rollback requests; use as a context manager."""

    def __init__(self, versions: dict[str, str], *, secret: bytes) -> None:
        self.versions = dict(versions)
        self.secret = secret
        self.calls: list[dict[str, Any]] = []
        self.changed = threading.Event()
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code, doc = service.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        want = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, headers.get("X-IncidentFlow-Signature", "")):
            return 401, {"error": "bad signature"}
        match = _ROLLBACK.match(path)
        if match is None:
            return 404, {"error": f"no route {path}"}
        doc = json.loads(body)
        name, key = match.group(1), headers.get("Idempotency-Key", "")
        with self._lock:
            self.calls.append({"path": path, "body": doc, "key": key})
            if key in self._keys:
                return 200, {"service": name, "version": self.versions[name], "repeat": True}
            if self.versions.get(name) != doc.get("from"):
                return 409, {"error": f"{name} runs {self.versions.get(name)}, not {doc['from']}"}
            self.versions[name] = doc["to"]
            self._keys.add(key)
        self.changed.set()
        return 200, {"service": name, "version": doc["to"]}

    def __enter__(self) -> DeployService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
