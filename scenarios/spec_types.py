"""The shapes of a generated bundle's spec, and small helpers the spec lists share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AlertSpec:
    name: str
    service: str
    severity: str = "critical"
    delay_s: int = 0  # after the first alert (the bundle's onset)
    flapping: bool = False  # also delivered resolved 90 s later
    summary: str = ""


@dataclass(frozen=True)
class ChangeSpec:
    id: str
    service: str
    kind: str
    minutes_before: float  # before the first alert
    before: str
    after: str
    author: str = "argocd"
    description: str = ""


@dataclass(frozen=True)
class ExpectedSpec:
    alerts: list[str]  # "AlertName/service"
    origin: str
    root: str
    fault_type: str
    change_id: str | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    also: list[str] = field(default_factory=list)  # other services that count as the root


@dataclass(frozen=True)
class Spec:
    name: str
    topology: str
    description: str
    onset: datetime
    root: str | None
    alerts: list[AlertSpec]
    expected: list[ExpectedSpec]
    lead_minutes: float = 4.0  # the fault starts this long before the first alert
    effects: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric: (to, ramp m)
    propagates: bool = True
    symptom_tops: list[str] = field(default_factory=list)
    caller_error: str = "upstream request timed out after 2000 ms"
    logs: dict[str, list[tuple[str, str, dict[str, str]]]] = field(default_factory=dict)
    trace_from: str | None = None
    trace_effect: str = ""  # error | slow | wire
    changes: list[ChangeSpec] = field(default_factory=list)
    runbooks: dict[str, tuple[list[str], list[str], str]] = field(default_factory=dict)
    unrelated: list[str] = field(default_factory=list)
    # Other services that fail on their own (not through a call), e.g. on one sick node.
    co_effects: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    # capacity.yaml: what the cluster runs (`deployments:`, `nodes:`); None writes none.
    capacity: dict[str, Any] | None = None


def _t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=UTC)


def _rollback(svc: str, to: str) -> dict[str, Any]:
    return {"kind": "rollback", "service": svc, "to_version": to}


def _act(kind: str, svc: str) -> dict[str, Any]:
    return {"kind": kind, "service": svc}


DISK_WARNING = AlertSpec("HostDiskWillFillIn24Hours", "reporting-worker", "warning", 40)
BANK_DISK = AlertSpec("HostDiskWillFillIn24Hours", "batch-scheduler", "warning", 50)
