"""Loopback stand-ins for what a test cannot reach: a Kubernetes cluster and HTTP receivers.

`install_fake_kubectl` writes a recording `kubectl` (no cluster is reachable from the tests):
it keeps deployments in a JSON file beside itself, logs every call, and understands exactly
the calls the kubectl executor makes. `Receiver` is a real HTTP server on loopback that
records requests, checks HMAC signatures and applies each Idempotency-Key once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAKE_KUBECTL = r'''#!PYTHON
"""Recording kubectl for tests: state in <this file>.json, calls in <this file>.log."""
import json, sys, time
from pathlib import Path

here = Path(__file__)
state_path, log_path = here.with_suffix(".json"), here.with_suffix(".log")
args = [a for a in sys.argv[1:]]
if args[:1] == ["--kubeconfig"]:
    args = args[2:]
state = json.loads(state_path.read_text())
with log_path.open("a") as log:
    log.write(" ".join(args) + "\n")
dep = state["deployments"][args[2 if args[0] == "rollout" else 1].split("/", 1)[1]]
if args[0] == "get":
    path = args[-1]
    if "image" in path:
        print(dep["images"][-1], end="")
    elif "replicas" in path:
        print(dep["replicas"], end="")
    else:
        print(dep.get("annotations", {}).get("incidentflow.io/last-action", ""), end="")
elif args[:2] == ["rollout", "undo"]:
    dep["images"].append(dep["images"][-2])
    print("rolled back")
elif args[:2] == ["rollout", "restart"]:
    dep["restarts"] = dep.get("restarts", 0) + 1
    print("restarted")
elif args[:2] == ["rollout", "status"]:
    time.sleep(state.get("status_delay", 0))
    print("successfully rolled out")
elif args[0] == "annotate":
    key, _, value = args[2].partition("=")
    dep.setdefault("annotations", {})[key] = value
elif args[0] == "scale":
    dep["replicas"] = int(args[2].split("=", 1)[1])
state_path.write_text(json.dumps(state))
'''


def install_fake_kubectl(directory: Path, deployments: dict[str, Any]) -> Path:
    """Write the recording kubectl into `directory`; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kubectl"
    path.write_text(FAKE_KUBECTL.replace("PYTHON", sys.executable, 1))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    path.with_suffix(".json").write_text(json.dumps({"deployments": deployments}))
    return path


def kubectl_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
    return state


def kubectl_calls(path: Path) -> list[str]:
    log = path.with_suffix(".log")
    return log.read_text().splitlines() if log.exists() else []


class Receiver:
    """A loopback HTTP receiver: records JSON bodies, applies each Idempotency-Key once."""

    def __init__(self, *, secret: bytes | None = None, hold_first_s: float = 0.0) -> None:
        self.secret = secret
        self.hold_first_s = hold_first_s
        self.requests: list[dict[str, Any]] = []
        self.effects: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        key = req.headers.get("Idempotency-Key")
        doc = json.loads(body)
        with self._lock:
            self.requests.append({"key": key, "body": doc, "headers": dict(req.headers)})
            first = len(self.requests) == 1
            if self.secret is not None:
                want = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, req.headers.get("X-IncidentFlow-Signature", "")):
                    self.bad_signatures += 1
                    req.send_response(401)
                    req.end_headers()
                    return
            if key is not None and key not in self.effects:
                self.effects[key] = doc
        if first and self.hold_first_s:
            time.sleep(self.hold_first_s)  # a slow target: the effect happened, the reply lags
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.end_headers()
        req.wfile.write(b'{"ok": true}')

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
