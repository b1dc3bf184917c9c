"""Test helpers: the demo scenario's alerts as `Alert`s, and the agents run over them.

The production parser lives in `incidentflow.ingest`; this small one keeps the agent tests
independent of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import investigate
from incidentflow.agents.remediation import plan
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertStatus,
    CorrelationInput,
    CorrelationResult,
    Detection,
    Incident,
    Investigation,
    InvestigationInput,
    OpenIncident,
    PlanInput,
    RemediationPlan,
)
from incidentflow.scenario import Scenario, load_scenario
from incidentflow.sources.bundle import BundleEvidenceSource
from incidentflow.sources.live import LiveSource

DUPLICATE_FP = "978dc99d7f462383"
UNRELATED = "HostDiskWillFillIn24Hours"

_ZERO = "0001-01-01"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def alert_from_dict(raw: dict[str, Any]) -> Alert:
    """One Alertmanager v4 alert object as our `Alert`."""
    ends = raw.get("endsAt") or ""
    return Alert(
        fingerprint=raw["fingerprint"],
        source="alertmanager",
        name=raw["labels"]["alertname"],
        status=AlertStatus(raw["status"]),
        labels=raw["labels"],
        annotations=raw.get("annotations", {}),
        starts_at=_time(raw["startsAt"]),
        ends_at=None if not ends or ends.startswith(_ZERO) else _time(ends),
        generator_url=raw.get("generatorURL"),
        raw=raw,
    )


def scenario_alerts(scenario: Scenario) -> list[Alert]:
    """Every delivered alert, duplicates included, in delivery order."""
    return [alert_from_dict(a) for p in scenario.alert_payloads for a in p["alerts"]]


def batch_of(alerts: list[Alert], *, environment: str = "production") -> AlertBatch:
    """A batch received right after its last alert started."""
    received = max((a.starts_at for a in alerts), default=_time("2025-03-14T14:10:00Z"))
    return AlertBatch(
        batch_id=f"batch-{len(alerts)}",
        environment=environment,
        received_at=received,
        alerts=alerts,
    )


def make_alert(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    at: str = "2025-03-14T14:05:00Z",
    status: AlertStatus = AlertStatus.FIRING,
    fingerprint: str | None = None,
) -> Alert:
    """A hand-made alert for edge cases; the fingerprint defaults to one per name+labels."""
    all_labels = {"alertname": name, **(labels or {})}
    fp = fingerprint or "fp-" + "-".join(f"{k}={v}" for k, v in sorted(all_labels.items()))
    return Alert(
        fingerprint=fp,
        source="alertmanager",
        name=name,
        status=status,
        labels=all_labels,
        starts_at=_time(at),
    )


@cache
def demo() -> Scenario:
    return load_scenario(demo_scenario_path())


def run_detection(alerts: list[Alert]) -> list[Detection]:
    return detect(batch_of(alerts), demo().topology).detections


def run_correlation(
    alerts: list[Alert],
    open_incidents: Sequence[OpenIncident] = (),
    environment: str = "production",
) -> CorrelationResult:
    inp = CorrelationInput(
        detections=run_detection(alerts),
        open_incidents=list(open_incidents),
        environment=environment,
    )
    return correlate(inp, demo().topology)


@cache
def demo_incident() -> Incident:
    (incident,) = run_correlation(scenario_alerts(demo())).new_incidents
    return incident


@cache
def demo_investigation() -> Investigation:
    source = BundleEvidenceSource(demo())
    return investigate(InvestigationInput(incident=demo_incident()), demo().topology, source)


@cache
def demo_plan() -> RemediationPlan:
    inp = PlanInput(incident=demo_incident(), investigation=demo_investigation())
    return plan(inp, demo().topology)


class EmptySource(LiveSource):
    """An evidence source with nothing in it (a live system with no telemetry wired)."""

    _name = "empty"
