"""Loopback stand-ins for evidence backends no test can reach: Loki, a change-log endpoint and
a Kubernetes cluster (through a recording `kubectl`).

Grafana Loki is not packaged in Debian here (Debian's `loki` is an unrelated genetics tool),
so `FakeLoki` is a real HTTP server on 127.0.0.1 that speaks `GET /loki/api/v1/query_range`:
it selects lines by the `service="..."` matcher of the LogQL it receives, honours start, end,
limit and direction, and records every request so tests assert the LogQL sent.
"""

from __future__ import annotations

import json
import re
import stat
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

_SERVICE = re.compile(r'service="([^"]*)"')


@dataclass
class LokiLine:
    service: str
    at: datetime
    line: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def ns(self) -> int:
        return int(self.at.timestamp()) * 1_000_000_000 + self.at.microsecond * 1000


@dataclass
class Peer:
    """What a loopback peer serves and what it was asked."""

    url: str = ""
    mode: str = "ok"  # ok | 500 | 400 | 401 | garbage | matrix | slow | not-a-list
    lines: list[LokiLine] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    @property
    def params(self) -> list[dict[str, str]]:
        """Each request's query parameters (single-valued)."""
        return [{k: v[0] for k, v in p.items()} for _, p, _ in self.requests]


def _loki_body(peer: Peer, params: dict[str, list[str]]) -> dict[str, Any]:
    query = params["query"][0]
    lo, hi = int(params["start"][0]), int(params["end"][0])
    match = _SERVICE.search(query)
    picked = [x for x in peer.lines if match and x.service == match.group(1) and lo <= x.ns <= hi]
    picked.sort(key=lambda x: x.ns, reverse=params.get("direction", ["backward"])[0] == "backward")
    picked = picked[: int(params.get("limit", ["100"])[0])]
    streams: dict[str, list[LokiLine]] = defaultdict(list)
    for x in picked:
        streams[json.dumps({"service": x.service, **x.labels}, sort_keys=True)].append(x)
    result = [
        {"stream": json.loads(key), "values": [[str(x.ns), x.line] for x in xs]}
        for key, xs in streams.items()
    ]
    kind = "matrix" if peer.mode == "matrix" else "streams"
    return {"status": "success", "data": {"resultType": kind, "result": result, "stats": {}}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        peer = self.server.peer
        url = urlparse(self.path)
        params = parse_qs(url.query)
        peer.requests.append((url.path, params, dict(self.headers.items())))
        if peer.mode == "slow":
            time.sleep(1.5)
        if peer.mode in ("500", "400", "401"):
            self._send(int(peer.mode), b"parse error at line 1, col 2: syntax error")
        elif peer.mode == "garbage":
            self._send(200, b"<html>not json</html>")
        elif url.path == "/loki/api/v1/query_range":
            self._send(200, json.dumps(_loki_body(peer, params)).encode())
        elif peer.mode == "not-a-list":
            self._send(200, json.dumps({"changes": peer.changes}).encode())
        else:
            self._send(200, json.dumps(peer.changes).encode())

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, peer: Peer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.peer = peer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out on a slow answer hung up: expected, not worth a trace."""
        return


@contextmanager
def serve(peer: Peer) -> Iterator[Peer]:
    """Serve `peer` on a free loopback port; `peer.url` is its base URL."""
    server = _Server(peer)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


RECORDING_KUBECTL = r'''#!PYTHON
"""Recording kubectl: logs argv to kubectl.log; prints kubectl.json (or fails as told)."""
import json, sys, time
from pathlib import Path

here = Path(__file__).parent
with (here / "kubectl.log").open("a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
canned = json.loads((here / "kubectl.json").read_text())
if canned.get("sleep"):
    time.sleep(canned["sleep"])
if canned.get("exit"):
    print(canned["stderr"], file=sys.stderr)
    sys.exit(canned["exit"])
print(canned["stdout"] if "stdout" in canned else json.dumps(canned["output"]))
'''


def install_kubectl(folder: Path, output: dict[str, Any]) -> Path:
    """A recording `kubectl` in `folder` that prints `output`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "kubectl"
    script.write_text(RECORDING_KUBECTL.replace("PYTHON", sys.executable, 1))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (folder / "kubectl.json").write_text(json.dumps(output))
    return folder


def kubectl_calls(folder: Path) -> list[list[str]]:
    """Every argv the recording kubectl was called with."""
    log = folder / "kubectl.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def replicaset(
    service: str,
    revision: int,
    image: str,
    created: str,
    *,
    extra_annotations: dict[str, str] | None = None,
    written: str | None = None,
) -> dict[str, Any]:
    """A ReplicaSet as `kubectl get replicasets -o json` prints it."""
    meta: dict[str, Any] = {
        "name": f"{service}-{revision:04x}abc",
        "namespace": "shop",
        "labels": {"app": service, "pod-template-hash": f"{revision:04x}abc"},
        "annotations": {REVISION: str(revision), **(extra_annotations or {})},
        "creationTimestamp": created,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": service}],
    }
    if written:
        meta["managedFields"] = [
            {"manager": "kube-controller-manager", "operation": "Update", "time": written}
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta,
        "spec": {"template": {"spec": {"containers": [{"name": service, "image": image}]}}},
    }


REVISION = "deployment.kubernetes.io/revision"
