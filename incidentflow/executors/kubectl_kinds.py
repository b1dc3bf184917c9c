"""kubectl templates for the kinds that revert a change or adjust capacity.

Each kind is one read, the value the read shows once the action has taken effect, and the
steps. The executor runs the read first and skips the steps when the cluster already shows the
wanted value, so a retry after a crash is harmless; every step is idempotent on its own too
(`patch`, `apply`, `delete --ignore-not-found`, `cordon`, `drain`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from incidentflow.models import (
    ActionParams,
    ConfigRevertParams,
    HpaBoundsParams,
    InfraRevertParams,
    NodeDrainParams,
    ResourcesParams,
)

ROLLOUT_TIMEOUT = "--timeout=5m"
DRAIN_TIMEOUT = "--timeout=5m"


@dataclass(frozen=True)
class Step:
    """One kubectl call; `stdin` is fed to it (a manifest for `apply -f -`)."""

    args: list[str]
    stdin: str | None = None


@dataclass(frozen=True)
class KubePlan:
    """A read, what it shows once the action took effect (None: always act), and the steps."""

    read: Step
    want: str | None
    steps: list[Step] = field(default_factory=list)


def _ns(namespace: str | None) -> list[str]:
    return ["-n", namespace] if namespace else []


def _jsonpath_key(key: str) -> str:
    return key.replace(".", "\\.")


def _compact(doc: object) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _config(p: ConfigRevertParams) -> KubePlan:
    ns = _ns(p.namespace)
    dep = f"deployment/{p.service}"
    rollout = Step(["rollout", "status", dep, ROLLOUT_TIMEOUT, *ns])
    if p.source == "env":
        path = f'jsonpath={{.spec.template.spec.containers[0].env[?(@.name=="{p.key}")].value}}'
        # `set env` changes the pod template, so the deployment rolls by itself.
        return KubePlan(
            read=Step(["get", dep, "-o", path, *ns]),
            want=p.to_value,
            steps=[Step(["set", "env", dep, f"{p.key}={p.to_value}", *ns]), rollout],
        )
    field_name = "data" if p.source == "configmap" else "stringData"
    obj = f"{p.source}/{p.name}"
    read = Step(["get", obj, "-o", f"jsonpath={{.data.{_jsonpath_key(p.key)}}}", *ns])
    patch = _compact({field_name: {p.key: p.to_value}})
    return KubePlan(
        read=read,
        # Always act: a retry after the patch but before the restart must still restart.
        want=None,
        steps=[
            Step(["patch", obj, "--type=merge", "-p", patch, *ns]),
            # Pods read mounted config at start (env from a ConfigMap never refreshes).
            Step(["rollout", "restart", dep, *ns]),
            rollout,
        ],
    )


def _infra(p: InfraRevertParams) -> KubePlan:
    ns = _ns(p.namespace)
    obj = f"{p.object_kind}/{p.name}"
    if p.to_manifest is None:
        return KubePlan(
            read=Step(["get", obj, "-o", "name", "--ignore-not-found", *ns]),
            want="",
            steps=[Step(["delete", obj, "--ignore-not-found", "--wait=true", *ns])],
        )
    return KubePlan(
        read=Step(["get", obj, "-o", "name", "--ignore-not-found", *ns]),
        want=None,  # apply is idempotent: the same manifest twice changes nothing
        steps=[Step(["apply", "-f", "-", *ns], stdin=p.to_manifest)],
    )


def _resources(p: ResourcesParams) -> KubePlan:
    dep = f"deployment/{p.service}"
    r = p.resource
    return KubePlan(
        read=Step(
            [
                "get",
                dep,
                "-o",
                f"jsonpath={{.spec.template.spec.containers[0].resources.requests.{r}}},"
                f"{{.spec.template.spec.containers[0].resources.limits.{r}}}",
            ]
        ),
        want=f"{p.to_request},{p.to_limit}",
        steps=[
            Step(
                [
                    "set",
                    "resources",
                    dep,
                    f"--requests={r}={p.to_request}",
                    f"--limits={r}={p.to_limit}",
                ]
            ),
            Step(["rollout", "status", dep, ROLLOUT_TIMEOUT]),
        ],
    )


def _hpa(p: HpaBoundsParams) -> KubePlan:
    hpa = f"hpa/{p.service}"
    spec = _compact({"spec": {"maxReplicas": p.to_max, "minReplicas": p.to_min}})
    return KubePlan(
        read=Step(["get", hpa, "-o", "jsonpath={.spec.minReplicas},{.spec.maxReplicas}"]),
        want=f"{p.to_min},{p.to_max}",
        steps=[Step(["patch", hpa, "--type=merge", "-p", spec])],
    )


def _node(p: NodeDrainParams) -> KubePlan:
    node = f"node/{p.node}"
    read = Step(["get", node, "-o", "jsonpath={.spec.unschedulable}"])
    if not p.drained:
        return KubePlan(read=read, want="", steps=[Step(["uncordon", p.node])])
    return KubePlan(
        read=read,
        want=None,  # cordoned is not drained: always run drain, which is idempotent
        steps=[
            Step(["cordon", p.node]),
            Step(["drain", p.node, "--ignore-daemonsets", "--delete-emptydir-data", DRAIN_TIMEOUT]),
        ],
    )


def kube_plan(params: ActionParams) -> KubePlan | None:
    """The plan for a kind this module handles, else None."""
    match params:
        case ConfigRevertParams():
            return _config(params)
        case InfraRevertParams():
            return _infra(params)
        case ResourcesParams():
            return _resources(params)
        case HpaBoundsParams():
            return _hpa(params)
        case NodeDrainParams():
            return _node(params)
    return None
