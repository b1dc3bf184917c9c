"""Scenario bundles (format v1): a recorded incident world in one directory.

A bundle holds the topology, the alerts exactly as they were received, metrics, logs, changes
and optionally the expected answer; the demo, the tests and `BundleEvidenceSource` read it.
Timestamps stay absolute as recorded; `Scenario.shifted` rebases them all at once. See
`docs/scenario-bundle-v1.md` for the format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from incidentflow.errors import BadInput
from incidentflow.evidence import (
    CapacityRecord,
    ChangeRecord,
    LogRecord,
    MetricPoint,
    MetricSeries,
    NodeRecord,
    Runbook,
    SpanRecord,
)
from incidentflow.models import FaultType, Service, ServiceGraph
from incidentflow.sources.files import (
    load_changes,
    load_logs,
    load_metrics_csv,
    load_metrics_json,
    load_runbooks,
    load_spans,
    parse_time,
    read_yaml,
    utc,
)

T = TypeVar("T")

FORMAT_VERSION = 1
# Alertmanager writes this for "not resolved yet"; it must never be shifted.
_ZERO_TIME_PREFIX = "0001-01-01"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpectedRootCause(_Frozen):
    service: str
    fault_type: FaultType
    change_id: str | None = None
    also: list[str] = Field(
        default_factory=list,
        description="Other services that count as right (a second root, an alias)",
    )

    @property
    def services(self) -> list[str]:
        """Every service that counts as the root cause, the main one first."""
        return [self.service, *(s for s in self.also if s != self.service)]


class AcceptedAction(_Frozen):
    kind: str
    service: str
    to_version: str | None = None


class ExpectedIncident(_Frozen):
    alertnames: list[str]
    fingerprints: list[str] = Field(
        default_factory=list, description="The incident's alerts exactly; else matched by name"
    )
    grouping: bool = Field(
        default=True,
        description="False: the alerts only locate the incident to score; no grouping truth",
    )
    services: list[str]
    origin_service: str
    root_cause: ExpectedRootCause
    accepted_actions: list[AcceptedAction] = Field(default_factory=list)
    source_fault_type: str | None = Field(
        default=None, description="The data set's own fault label, before mapping to ours"
    )


class ExpectedAnswer(_Frozen):
    """What a correct run concludes; `eval` and the tests compare against it."""

    incidents: list[ExpectedIncident]
    unrelated_alertnames: list[str] = Field(default_factory=list)
    duplicate_fingerprints: list[str] = Field(default_factory=list)


class Scenario(_Frozen):
    """A loaded bundle; alert payloads are kept as the raw dicts the sender posted."""

    name: str
    format_version: Literal[1] = 1
    description: str = ""
    environment: str = "production"
    alert_source: str = Field(default="alertmanager", description="Wire format of alerts/*.json")
    root: Path | None = None
    topology: ServiceGraph
    alert_payloads: list[dict[str, Any]]
    metrics: list[MetricSeries] = Field(default_factory=list)
    logs: list[LogRecord] = Field(default_factory=list)
    changes: list[ChangeRecord] = Field(default_factory=list)
    spans: list[SpanRecord] = Field(default_factory=list)
    runbooks: list[Runbook] = Field(default_factory=list)
    deployments: list[CapacityRecord] = Field(default_factory=list)
    nodes: list[NodeRecord] = Field(default_factory=list)
    expected: ExpectedAnswer | None = None

    def alert_starts(self) -> dict[str, datetime]:
        """Earliest `startsAt` per alert fingerprint across all payloads."""
        starts: dict[str, datetime] = {}
        for payload in self.alert_payloads:
            for alert in payload.get("alerts", []):
                at = _parse_time(str(alert["startsAt"]))
                fp = str(alert.get("fingerprint", ""))
                if fp not in starts or at < starts[fp]:
                    starts[fp] = at
        return starts

    def earliest_alert_start(self) -> datetime:
        """When the first recorded alert started: the bundle's onset."""
        starts = self.alert_starts()
        if not starts:
            raise BadInput(f"scenario {self.name} has no alerts to take an onset from")
        return min(starts.values())

    def shifted(self, delta: timedelta) -> Scenario:
        """The same world with every timestamp (alerts included) moved by `delta`."""
        if not delta:
            return self
        return self.model_copy(
            update={
                "alert_payloads": [shift_payload(p, delta) for p in self.alert_payloads],
                "metrics": [
                    s.model_copy(
                        update={
                            "points": [
                                MetricPoint(at=p.at + delta, value=p.value) for p in s.points
                            ]
                        }
                    )
                    for s in self.metrics
                ],
                "logs": [r.model_copy(update={"at": r.at + delta}) for r in self.logs],
                "changes": [c.model_copy(update={"at": c.at + delta}) for c in self.changes],
                "spans": [
                    s.model_copy(update={"start": s.start + delta, "end": s.end + delta})
                    for s in self.spans
                ],
            }
        )


def load_scenario(path: Path) -> Scenario:
    """Read a format v1 bundle; raise `BadInput` naming the file that is wrong."""
    if not path.is_dir():
        raise BadInput(f"{path} is not a scenario directory")
    manifest = read_yaml(path / "scenario.yaml")
    if manifest.get("format") != FORMAT_VERSION:
        raise BadInput(
            f"{path / 'scenario.yaml'}: format {manifest.get('format')!r} is not supported; "
            f"expected {FORMAT_VERSION}"
        )
    name = str(manifest.get("name") or path.name)
    try:
        return Scenario(
            name=name,
            description=str(manifest.get("description", "")).strip(),
            environment=str(manifest.get("environment", "production")),
            alert_source=str(manifest.get("alert_source", "alertmanager")),
            root=path,
            topology=_load_topology(path / "topology.yaml"),
            alert_payloads=_load_alert_payloads(path / "alerts"),
            metrics=_load_metrics(path / "metrics.json", name),
            logs=_optional(path / "logs.jsonl", load_logs, f"bundle://{name}/logs.jsonl"),
            changes=_optional(path / "changes.yaml", load_changes, f"bundle://{name}/changes.yaml"),
            spans=_optional(path / "spans.jsonl", load_spans, f"bundle://{name}/spans.jsonl"),
            runbooks=_optional(path / "runbooks", load_runbooks, f"bundle://{name}/runbooks"),
            **_load_capacity(path / "capacity.yaml", name),
            expected=_load_expected(path / "expected.yaml"),
        )
    except ValidationError as err:
        raise BadInput(f"scenario {path}: {err}") from err


def _optional(path: Path, reader: Callable[[Path, str], list[T]], link_prefix: str) -> list[T]:
    """A bundle's optional file (or folder): read when present, else nothing."""
    return reader(path, link_prefix) if path.exists() else []


# --- file readers -------------------------------------------------------------------------


def _load_topology(path: Path) -> ServiceGraph:
    data = read_yaml(path)
    services = data.get("services")
    if not isinstance(services, list):
        raise BadInput(f"{path}: expected `services:` as a list")
    graph = ServiceGraph(services=[Service.model_validate(s) for s in services])
    names = {s.name for s in graph.services}
    for svc in graph.services:
        unknown = [d for d in svc.depends_on if d not in names]
        if unknown:
            raise BadInput(f"{path}: {svc.name} depends on unknown services {unknown}")
    return graph


def _load_alert_payloads(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        raise BadInput(f"{folder}: a scenario needs an alerts/ folder")
    payloads: list[dict[str, Any]] = []
    # File names order the deliveries, so a bundle replays in the order it was received.
    for file in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise BadInput(f"{file}: {err}") from err
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            raise BadInput(f"{file}: expected a webhook payload with an `alerts` list")
        payloads.append(payload)
    return payloads


def _load_metrics(path: Path, scenario: str) -> list[MetricSeries]:
    out: list[MetricSeries] = []
    if path.exists():
        out += load_metrics_json(path, f"bundle://{scenario}/metrics.json")
    csv_path = path.with_suffix(".csv")
    if csv_path.exists():
        out += load_metrics_csv(csv_path, f"bundle://{scenario}/metrics.csv")
    return out


def _load_capacity(path: Path, scenario: str) -> dict[str, Any]:
    """`capacity.yaml` (optional): `deployments:` and `nodes:` as the cluster held them."""
    if not path.exists():
        return {}
    data = read_yaml(path)
    link = f"bundle://{scenario}/capacity.yaml"
    deployments = data.get("deployments") or []
    nodes = data.get("nodes") or []
    if not isinstance(deployments, list) or not isinstance(nodes, list):
        raise BadInput(f"{path}: expected `deployments:` and `nodes:` as lists")
    return {
        "deployments": [CapacityRecord.model_validate({"link": link, **d}) for d in deployments],
        "nodes": [NodeRecord.model_validate({"link": link, **n}) for n in nodes],
    }


def _load_expected(path: Path) -> ExpectedAnswer | None:
    if not path.exists():
        return None
    return ExpectedAnswer.model_validate(read_yaml(path))


# --- time helpers -------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    return utc(at)


def _parse_time(value: Any) -> datetime:
    return parse_time(value)


def _format_time(at: datetime) -> str:
    return _utc(at).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shift_stamp(value: Any, delta: timedelta) -> Any:
    if not isinstance(value, str) or not value or value.startswith(_ZERO_TIME_PREFIX):
        return value
    return _format_time(_parse_time(value) + delta)


def shift_payload(payload: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """A copy of a webhook payload with its alerts' start and end moved by `delta`."""
    alerts = [
        {
            **alert,
            "startsAt": _shift_stamp(alert.get("startsAt"), delta),
            "endsAt": _shift_stamp(alert.get("endsAt"), delta),
        }
        for alert in payload.get("alerts", [])
    ]
    return {**payload, "alerts": alerts}
