"""A loopback HTTP server that speaks the few GET paths of the Kubernetes API that
`kubectl get deployments|horizontalpodautoscalers|pods|nodes -o json` needs (discovery
included), and a kubeconfig pointing at it; for driving the real `kubectl` binary.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

_IN = re.compile(r"^(?P<key>[-\w./]+) in \((?P<values>[^)]*)\)$")


def _resources(group_version: str, items: list[tuple[str, str, bool, list[str]]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": name,
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list"],
                "shortNames": short,
            }
            for name, kind, namespaced, short in items
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "21", "gitVersion": "v1.21.0", "platform": "linux/amd64"},
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    },
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group("apps", ["v1"]), _group("autoscaling", ["v2", "v1"])],
    },
    "/api/v1": _resources("v1", [("pods", "Pod", True, ["po"]), ("nodes", "Node", False, ["no"])]),
    "/apis/apps/v1": _resources(
        "apps/v1",
        [
            ("deployments", "Deployment", True, ["deploy"]),
            ("replicasets", "ReplicaSet", True, ["rs"]),
        ],
    ),
    "/apis/autoscaling/v2": _resources(
        "autoscaling/v2", [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"])]
    ),
    "/apis/autoscaling/v1": _resources(
        "autoscaling/v1", [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"])]
    ),
}


def _selected(item: dict[str, Any], selector: str | None, fields: str | None = None) -> bool:
    if fields:
        key, _, value = fields.partition("=")
        if key != "spec.nodeName":
            raise ValueError(f"field selector the fake does not speak: {fields!r}")
        return bool((item.get("spec") or {}).get("nodeName") == value)
    if not selector:
        return True
    found = _IN.match(selector)
    if found is None:
        raise ValueError(f"selector the fake does not speak: {selector!r}")
    labels = item["metadata"].get("labels") or {}
    return labels.get(found["key"]) in found["values"].split(",")


class KubeApi:
    """Deployments, HPAs and pods of one namespace, and nodes; every request is recorded."""

    def __init__(
        self,
        *,
        namespace: str,
        deployments: list[dict[str, Any]],
        hpas: list[dict[str, Any]],
        pods: list[dict[str, Any]],
        nodes: list[dict[str, Any]],
    ) -> None:
        self.requests: list[str] = []
        lists = {
            f"/apis/apps/v1/namespaces/{namespace}/deployments": ("DeploymentList", deployments),
            f"/api/v1/namespaces/{namespace}/pods": ("PodList", pods),
        }
        for version in ("v1", "v2"):
            path = f"/apis/autoscaling/{version}/namespaces/{namespace}/horizontalpodautoscalers"
            lists[path] = ("HorizontalPodAutoscalerList", hpas)
        by_node = {f"/api/v1/nodes/{n['metadata']['name']}": n for n in nodes}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                api.requests.append(self.path)
                query = parse_qs(url.query)
                if url.path in DISCOVERY:
                    self._send(200, DISCOVERY[url.path])
                elif url.path in lists:
                    kind, items = lists[url.path]
                    selector = query.get("labelSelector", [None])[0]
                    fields = query.get("fieldSelector", [None])[0]
                    chosen = [i for i in items if _selected(i, selector, fields)]
                    self._send(
                        200,
                        {"kind": kind, "apiVersion": "v1", "metadata": {}, "items": chosen},
                    )
                elif url.path in by_node:
                    self._send(200, by_node[url.path])
                else:
                    self._send(
                        404,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "reason": "NotFound",
                            "message": f"{url.path} not found",
                            "code": 404,
                        },
                    )

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig whose only cluster is this server."""
        port = self.server.server_address[1]
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "loop", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                    ],
                    "users": [{"name": "reader", "user": {}}],
                    "contexts": [
                        {"name": "loop", "context": {"cluster": "loop", "user": "reader"}}
                    ],
                    "current-context": "loop",
                }
            )
        )
        return path

    def __enter__(self) -> KubeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
