"""Kubernetes through kubectl: rollout history as deploys, and what the cluster runs.

Each Deployment revision becomes a deploy; `capacity`/`nodes` read each service's Deployment
(replicas, requests and limits), its HPA, its pods and their nodes (`kubectl_capacity.py`
reads the objects), one `kubectl get ... -o json` per question.

Rollout history is `kubectl get replicasets -n <ns> -l '<label> in (<services>)' -o json`,
read-only. A Deployment keeps one ReplicaSet per revision
(`deployment.kubernetes.io/revision`); consecutive revisions give the images before and after,
and a ReplicaSet's creation time is when its revision rolled out. A rollback re-uses an old
ReplicaSet under a new revision (it then carries `revision-history`); Kubernetes records no
rollout time for that, so the latest time its fields were written stands in.
kubectl runs as a list of arguments (never a shell) with a timeout; it does not retry.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from incidentflow.errors import BadInput, ConfigError, EvidenceUnavailable
from incidentflow.evidence import CapacityRecord, ChangeKind, ChangeRecord, NodeRecord
from incidentflow.sources.capacity import failing
from incidentflow.sources.files import parse_time, utc
from incidentflow.sources.kubectl_capacity import read_capacity, read_node, read_pod
from incidentflow.sources.live import LiveSource
from incidentflow.telemetry import evidence_span

KUBECTL_TIMEOUT_S = 20.0
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
# A label value, as Kubernetes allows it; other names cannot select anything.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def image_tag(image: str) -> str:
    """`registry:5000/team/payments:v2.15.0` -> `v2.15.0`; a digest or a bare name as it is."""
    if "@" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


def _images(rs: dict[str, Any]) -> list[str]:
    containers = rs.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return [str(c["image"]) for c in containers]


def _version(images: list[str]) -> str:
    """One container: its tag (what logs and alerts name); several: `image:tag` each."""
    if len(images) == 1:
        return image_tag(images[0])
    return ",".join(img.rsplit("/", 1)[-1] for img in images)


def _rolled_out_at(rs: dict[str, Any]) -> datetime:
    meta = rs["metadata"]
    created = parse_time(meta["creationTimestamp"])
    if REVISION_HISTORY not in meta.get("annotations", {}):
        return created
    written = [parse_time(f["time"]) for f in meta.get("managedFields", []) if f.get("time")]
    return max([created, *written])


class KubectlChangeLog(LiveSource):
    """Deploys read from ReplicaSets, and (when enabled) Deployments, HPAs, pods and nodes."""

    def __init__(
        self,
        *,
        binary: str = "kubectl",
        namespace: str = "default",
        kubeconfig: Path | None = None,
        context: str | None = None,
        app_label: str = "app",
        timeout_s: float = KUBECTL_TIMEOUT_S,
        name: str = "kubernetes",
        read_changes: bool = True,
        read_capacity: bool = False,
    ) -> None:
        self._read_changes = read_changes
        self._read_capacity = read_capacity
        self._binary = binary
        self._namespace = namespace
        self._kubeconfig = kubeconfig
        self._context = context
        self._label = app_label
        self._timeout = timeout_s
        self._name = name

    def argv(self, services: Sequence[str]) -> list[str]:
        """The kubectl command line that lists the services' ReplicaSets."""
        selector = f"{self._label} in ({','.join(sorted(services))})"
        return [
            *self._head(),
            "get",
            "replicasets",
            "-n",
            self._namespace,
            "-l",
            selector,
            "-o",
            "json",
        ]

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """One deploy per revision rolled out in the window, oldest first."""
        wanted = sorted({s for s in services if _LABEL_VALUE.match(s)})
        if not wanted or not self._read_changes:
            return []
        lo, hi = utc(start), utc(end)
        try:
            found = self._deploys(self._get(wanted))
        except (KeyError, TypeError, ValueError, AttributeError, BadInput) as err:
            raise EvidenceUnavailable(
                f"`kubectl get replicasets` sent a ReplicaSet that does not fit: {err!r}"
            ) from err
        return [c for c in found if c.service in wanted and lo <= c.at <= hi]

    def _get(self, services: list[str]) -> list[dict[str, Any]]:
        return self._items(self.argv(services), "replicasets")

    def _head(self) -> list[str]:
        head = [self._binary]
        if self._kubeconfig is not None:
            head += ["--kubeconfig", str(self._kubeconfig)]
        if self._context:
            head += ["--context", self._context]
        return head

    def capacity_argv(self, what: str, services: Sequence[str] = ()) -> list[str]:
        """`kubectl get <what>` in the namespace as JSON, selecting `services` by label."""
        argv = [*self._head(), "get", what, "-n", self._namespace]
        if services:
            argv += ["-l", f"{self._label} in ({','.join(sorted(services))})"]
        return [*argv, "-o", "json"]

    def capacity(self, *, services: Sequence[str]) -> list[CapacityRecord]:
        """Each service's Deployment (replicas, first container's requests and limits), the
        HPA that scales it and its pods: three reads, `deployments`, `hpa`, `pods`."""
        wanted = sorted({s for s in services if _LABEL_VALUE.match(s)})
        if not wanted or not self._read_capacity:
            return []
        deployments = self._items(self.capacity_argv("deployments", wanted), "deployments")
        if not deployments:
            return []
        hpas = self._items(self.capacity_argv("horizontalpodautoscalers"), "hpa")
        pods = self._items(self.capacity_argv("pods", wanted), "pods")
        try:
            return read_capacity(
                deployments,
                hpas,
                pods,
                label=self._label,
                namespace=self._namespace,
                link=f"k8s://{self._context or 'current'}/apis/apps/v1/namespaces/"
                f"{self._namespace}/deployments/",
            )
        except (KeyError, TypeError, ValueError, AttributeError, ValidationError) as err:
            raise EvidenceUnavailable(
                f"`kubectl get deployments/hpa/pods` sent an object that does not fit: {err!r}"
            ) from err

    def nodes(self, *, names: Sequence[str]) -> list[NodeRecord]:
        """The named nodes' conditions and cordon: one `kubectl get nodes <names> -o json`."""
        wanted = sorted({n for n in names if _NODE_NAME.match(n)})
        if not wanted or not self._read_capacity:
            return []
        argv = [*self._head(), "get", "nodes", *wanted, "-o", "json"]
        link = f"k8s://{self._context or 'current'}/api/v1/nodes/"
        try:
            found = [read_node(item, link=link) for item in self._items(argv, "nodes")]
            # Only a sick node is worth a second read: which services' pods run and fail on it.
            return [self._with_pods(n) if n.unhealthy else n for n in found]
        except (KeyError, TypeError, ValueError, AttributeError, ValidationError) as err:
            raise EvidenceUnavailable(
                f"`kubectl get nodes` sent a node that does not fit: {err!r}"
            ) from err

    def _with_pods(self, node: NodeRecord) -> NodeRecord:
        argv = [
            *self._head(),
            "get",
            "pods",
            "-n",
            self._namespace,
            "--field-selector",
            f"spec.nodeName={node.name}",
            "-o",
            "json",
        ]
        here = [
            (str(service), read_pod(p))
            for p in self._items(argv, "pods")
            if (service := (p["metadata"].get("labels") or {}).get(self._label))
        ]
        return node.model_copy(
            update={
                "services": sorted({s for s, _ in here}),
                "failing_services": sorted({s for s, p in here if failing(p)}),
            }
        )

    def _items(self, argv: list[str], what: str) -> list[dict[str, Any]]:
        """Run one read and return its objects (a List's items, or the one object)."""
        try:
            with evidence_span(self._name, shlex.join(argv)):
                done = subprocess.run(
                    argv, capture_output=True, text=True, timeout=self._timeout, check=False
                )
        except FileNotFoundError as err:
            raise ConfigError(
                f"INCIDENTFLOW_KUBECTL_BINARY={self._binary!r} was not found"
            ) from err
        except subprocess.TimeoutExpired as err:
            raise EvidenceUnavailable(
                f"`kubectl get {what}` took over {self._timeout:g}s "
                f"(INCIDENTFLOW_KUBECTL_CONTEXT={self._context or 'current'})"
            ) from err
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
            raise EvidenceUnavailable(
                f"`kubectl get {what} -n {self._namespace}` exited {done.returncode}: {why}"
            )
        try:
            doc = json.loads(done.stdout)
            # Asked for one object by name, kubectl prints the object, not a List.
            single = "items" not in doc and not str(doc.get("kind", "List")).endswith("List")
            items = [doc] if single else doc["items"]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise EvidenceUnavailable(
                f"`kubectl get {what} -o json` printed no list: {done.stdout[:120]!r}"
            ) from err
        if not isinstance(items, list):
            raise EvidenceUnavailable(f"`kubectl get {what} -o json` items is not a list")
        return items

    def _deploys(self, items: list[dict[str, Any]]) -> list[ChangeRecord]:
        by_deployment: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for rs in items:
            meta = rs["metadata"]
            revision = meta.get("annotations", {}).get(REVISION)
            service = meta.get("labels", {}).get(self._label)
            if revision is None or service is None:
                continue  # not a Deployment's ReplicaSet, or not one of ours
            owner = next(
                (o["name"] for o in meta.get("ownerReferences", []) if o["kind"] == "Deployment"),
                service,
            )
            by_deployment[(service, owner)].append((int(revision), rs))
        out: list[ChangeRecord] = []
        for (service, deployment), revisions in by_deployment.items():
            revisions.sort(key=lambda r: r[0])
            previous: list[str] = []
            for revision, rs in revisions:
                images = _images(rs)
                out.append(self._record(service, deployment, revision, rs, previous, images))
                previous = images
        return sorted(out, key=lambda c: (c.at, c.id))

    def _record(
        self,
        service: str,
        deployment: str,
        revision: int,
        rs: dict[str, Any],
        previous: list[str],
        images: list[str],
    ) -> ChangeRecord:
        meta = rs["metadata"]
        cause = meta.get("annotations", {}).get("kubernetes.io/change-cause", "")
        rolled_back = REVISION_HISTORY in meta.get("annotations", {})
        what = "rollback" if rolled_back else "rollout"
        description = (
            f"deployment/{deployment} revision {revision} ({what}): "
            f"{', '.join(previous) or 'none'} -> {', '.join(images)}"
        )
        try:
            return ChangeRecord(
                id=f"k8s-{self._namespace}-{deployment}-r{revision}",
                service=service,
                kind=ChangeKind.DEPLOY,
                at=_rolled_out_at(rs),
                before=_version(previous) if previous else "none",
                after=_version(images),
                author="kubernetes",  # a ReplicaSet does not record who rolled it out
                description=f"{description}; {cause}" if cause else description,
                link=(
                    f"k8s://{self._context or 'current'}/apis/apps/v1/namespaces/"
                    f"{self._namespace}/replicasets/{meta['name']}"
                ),
            )
        except ValidationError as err:
            raise BadInput(f"replicaset {meta.get('name')}: {err}") from err
