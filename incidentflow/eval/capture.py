"""`incidentflow bundle capture INC-ID OUT`: one real incident as a scenario bundle.

A team grows its regression suite from its own nights: the incident's alerts as they were
received, what the configured evidence sources return for its window (metrics, logs,
changes, runbooks, spans where a source holds them) and an `expected.yaml` filled from what
people decided. A source that fails is reported as unavailable and the rest still write.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from incidentflow.client import IncidentClient
from incidentflow.errors import BadInput, ConfigError
from incidentflow.evidence import EvidenceSource, LogLevel, RunbookSource, SpanSource
from incidentflow.models import (
    Alert,
    AlertStatus,
    Decision,
    Engine,
    IncidentRecord,
    Service,
    ServiceGraph,
)
from incidentflow.scenario import FORMAT_VERSION
from incidentflow.settings import Settings
from incidentflow.sources.build import evidence_sources

_ZERO = "0001-01-01T00:00:00Z"
# Changes this long before the window are kept: a deploy hours before can be the cause
# (investigation looks as far back).
CHANGE_LOOKBACK = timedelta(hours=6)


@dataclass
class Captured:
    """What `capture_incident` wrote, and which sources could not answer."""

    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """`3 alerts, 12 metric series, ...` for the command's one line."""
        return ", ".join(f"{n} {what}" for what, n in self.counts.items())


async def capture_incident(
    client: Client, settings: Settings, incident_id: str, out: Path, *, margin_s: int = 900
) -> Captured:
    """Write the incident as a bundle in the new folder `out`."""
    record = await IncidentClient(client).record(incident_id)
    sources = evidence_sources(settings.sources)
    if not sources:
        raise ConfigError(
            "no evidence source is configured (INCIDENTFLOW_PROMETHEUS_URL, _LOKI_URL, "
            "_CHANGELOG_FILE, _RUNBOOKS_DIR...): capture would write the alerts alone"
        )
    # The sources answer over blocking HTTP: off the event loop.
    return await asyncio.to_thread(
        write_bundle, record, settings, sources, out, margin=timedelta(seconds=margin_s)
    )


def write_bundle(
    record: IncidentRecord,
    settings: Settings,
    sources: list[EvidenceSource],
    out: Path,
    *,
    margin: timedelta,
) -> Captured:
    """The bundle files for one incident record, read from `sources` (blocking I/O)."""
    if out.exists() or out.with_name(out.name + ".tmp").exists():
        raise BadInput(f"{out} already exists; capture writes a new folder")
    incident = record.incident
    alerts = sorted(incident.alerts, key=lambda a: (a.starts_at, a.fingerprint))
    if not alerts:
        raise BadInput(f"{incident.id} holds no alert to capture")
    start = min(_utc(a.starts_at) for a in alerts) - margin
    end = max(_last_seen(a) for a in alerts) + margin
    end = min(end, datetime.now(UTC))
    graph = _graph(settings, record)
    services = [s.name for s in graph.services]
    staging = out.with_name(out.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=False)
    captured = Captured(path=out)
    name = re.sub(r"[^a-z0-9-]+", "-", incident.id.lower()).strip("-")
    _dump_yaml(
        staging / "scenario.yaml",
        {
            "name": name,
            "format": FORMAT_VERSION,
            "environment": incident.environment,
            "alert_source": "alertmanager",
            "description": f"Captured from {incident.id} ({incident.title}), "
            f"{_stamp(start)} to {_stamp(end)}.",
        },
    )
    _dump_yaml(staging / "topology.yaml", {"services": [_service(s) for s in graph.services]})
    folder = staging / "alerts"
    folder.mkdir()
    for n, alert in enumerate(alerts, start=1):
        payload = _payload(alert)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", alert.name)
        (folder / f"{n:03d}-{safe}.json").write_text(json.dumps(payload, indent=2) + "\n")
    captured.counts["alerts"] = len(alerts)

    series: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    runbooks: dict[str, str] = {}
    for source in sources:
        try:
            series += [
                s.model_dump(mode="json", exclude_none=True)
                for s in source.metrics(services=services, start=start, end=end)
            ]
            logs += [
                _log(r.model_dump(mode="json", exclude_none=True))
                for r in source.logs(
                    services=services, start=start, end=end, min_level=LogLevel.DEBUG
                )
            ]
            changes += [
                c.model_dump(mode="json", exclude_none=True)
                for c in source.changes(
                    services=services, start=start - timedelta(hours=6), end=end
                )
            ]
            if isinstance(source, SpanSource):
                spans += [
                    _span(s.model_dump(mode="json", exclude_none=True))
                    for s in source.spans(services=services, start=start, end=end)
                ]
            if isinstance(source, RunbookSource):
                names = sorted({a.name for a in alerts})
                for rb in source.runbooks(alertnames=names, services=services):
                    runbooks[rb.id] = _runbook(rb.model_dump(mode="json", exclude_none=True))
        except Exception as err:  # a source that is down must not lose the others
            captured.unavailable.append(f"{source.name}: {type(err).__name__}: {err}"[:300])
    if series:
        (staging / "metrics.json").write_text(
            json.dumps({"series": [_series(s) for s in series]}, indent=1) + "\n"
        )
    if logs:
        (staging / "logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in logs))
    if changes:
        _dump_yaml(staging / "changes.yaml", {"changes": changes})
    if spans:
        (staging / "spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    if runbooks:
        (staging / "runbooks").mkdir()
        for rid, text in runbooks.items():
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", rid)
            (staging / "runbooks" / f"{safe}.md").write_text(text)
    captured.counts.update(
        {
            "metric series": len(series),
            "log lines": len(logs),
            "changes": len(changes),
            "spans": len(spans),
            "runbooks": len(runbooks),
        }
    )
    (staging / "expected.yaml").write_text(expected_skeleton(record))
    staging.rename(out)
    return captured


def expected_skeleton(record: IncidentRecord) -> str:
    """`expected.yaml` from what people decided; what the agents said is marked to confirm."""
    incident, inv, plan = record.incident, record.investigation, record.plan
    top = inv.hypotheses[0] if inv is not None and inv.hypotheses else None
    decided_cause = inv is not None and inv.engine is Engine.PERSON
    approved = record.approval is not None and record.approval.decision is Decision.APPROVED
    notes = [
        "# Captured by `incidentflow bundle capture`. Check every field before this bundle",
        "# joins a regression suite:",
        "#   root_cause: "
        + (
            "from the investigation a person wrote (an override)."
            if decided_cause
            else "what the agents concluded; NOBODY CONFIRMED IT: correct it by hand."
        ),
        "#   accepted_actions: "
        + (
            f"the plan {record.approval.by} approved."  # type: ignore[union-attr]
            if approved
            else "empty: no plan was approved."
        ),
    ]
    accepted: list[dict[str, Any]] = []
    if approved and plan is not None and plan.action is not None:
        params = plan.action.params.model_dump(mode="json")
        action = {"kind": str(params.get("kind", "")), "service": str(params.get("service", ""))}
        if params.get("to_version"):
            action["to_version"] = str(params["to_version"])
        accepted.append(action)
    body = {
        "incidents": [
            {
                "alertnames": sorted({a.name for a in incident.alerts}),
                "fingerprints": sorted({a.fingerprint for a in incident.alerts}),
                "services": sorted(incident.services),
                "origin_service": incident.origin_service or (top.service if top else ""),
                "root_cause": {
                    "service": top.service if top else (incident.origin_service or ""),
                    "fault_type": top.fault_type.value if top else "unknown",
                },
                "accepted_actions": accepted,
            }
        ]
    }
    return "\n".join(notes) + "\n" + yaml.safe_dump(body, sort_keys=False, width=100)


# --- shapes ------------------------------------------------------------------------------


def _payload(alert: Alert) -> dict[str, Any]:
    """The alert as it was received, in an Alertmanager v4 envelope."""
    raw = alert.raw if isinstance(alert.raw, dict) and "labels" in alert.raw else None
    body: dict[str, Any] = dict(raw) if raw is not None else {}
    if raw is None:
        body = {
            "status": alert.status.value,
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": _stamp(_utc(alert.starts_at)),
            "endsAt": _ZERO if _open_ended(alert) else _stamp(_utc(alert.ends_at)),  # type: ignore[arg-type]
            "generatorURL": "",
            "fingerprint": alert.fingerprint,
        }
    body.setdefault("fingerprint", alert.fingerprint)
    labels = {str(k): str(v) for k, v in body.get("labels", {}).items()}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.name}"}}',
        "truncatedAlerts": 0,
        "status": body.get("status", alert.status.value),
        "receiver": "incidentflow",
        "groupLabels": {"alertname": alert.name},
        "commonLabels": labels,
        "commonAnnotations": body.get("annotations", {}),
        "externalURL": "",
        "alerts": [body],
    }


def _graph(settings: Settings, record: IncidentRecord) -> ServiceGraph:
    if settings.graph.catalog_path:
        from incidentflow.context import load_catalog

        return load_catalog(settings.graph.catalog_path)
    names = sorted({*record.incident.services, *(_hyp_services(record))})
    return ServiceGraph(services=[Service(name=n) for n in names])


def _hyp_services(record: IncidentRecord) -> list[str]:
    inv = record.investigation
    return [h.service for h in inv.hypotheses] if inv is not None else []


def _service(svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": svc.name,
        "owner": svc.owner,
        "tier": svc.tier,
        "depends_on": list(svc.depends_on),
    }
    if svc.runbook:
        out["runbook"] = svc.runbook
    return out


def _series(s: dict[str, Any]) -> dict[str, Any]:
    points = [[p["at"], p["value"]] for p in s.pop("points", [])]
    return {**s, "points": points}


def _log(r: dict[str, Any]) -> dict[str, Any]:
    return {"time": r.pop("at"), **r}


def _span(s: dict[str, Any]) -> dict[str, Any]:
    return s


def _runbook(rb: dict[str, Any]) -> str:
    front = {k: rb[k] for k in ("title", "alerts", "services", "link") if rb.get(k)}
    return "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + str(rb.get("body", ""))


def _dump_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def _last_seen(alert: Alert) -> datetime:
    # Still firing (Alertmanager writes year 1 for "no end yet"): it lasts until now.
    if alert.status is AlertStatus.FIRING or alert.ends_at is None or alert.ends_at.year < 2:
        return datetime.now(UTC)
    return _utc(alert.ends_at)


def _open_ended(alert: Alert) -> bool:
    return alert.ends_at is None or alert.ends_at.year < 2


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
