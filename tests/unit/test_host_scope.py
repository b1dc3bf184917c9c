"""Host-scoped series (labels `scope: node`, `node: <host>`) describe a machine, not the
service they were reported with: never any service's own evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import DEFAULT_CONFIG, own_series, window_of
from incidentflow.eval.offline import run_offline
from incidentflow.evidence import HOST_LABEL, HOST_SCOPE, SCOPE_LABEL, MetricPoint, MetricSeries
from incidentflow.ingest.alertmanager import AlertmanagerWebhook, normalize
from incidentflow.llm.client import ToolCall
from incidentflow.llm.redact import Redactor
from incidentflow.llm.tools import EvidenceTools
from incidentflow.models import AlertBatch, CorrelationInput, Service, ServiceGraph
from incidentflow.scenario import Scenario
from incidentflow.sources.bundle import BundleEvidenceSource

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
CALM = [5.0, 6.0, 4.0, 5.5, 4.5, 6.5, 5.0, 4.0, 6.0, 5.0] * 3


def _series(service: str, name: str, values: list[float], host: str | None) -> MetricSeries:
    labels = {SCOPE_LABEL: HOST_SCOPE, HOST_LABEL: host} if host else {}
    return MetricSeries(
        id=f"{service}:{name}",
        name=name,
        service=service,
        labels=labels,
        points=[MetricPoint(at=T0 + i * MIN, value=v) for i, v in enumerate(values)],
    )


def test_a_host_scoped_series_is_no_services_own() -> None:
    host = _series("a", "node_cpu_usage_ratio", CALM, "10.0.0.7")
    pod = _series("a", "cpu_usage_ratio", CALM, None)
    assert host.host == "10.0.0.7" and pod.host is None
    # Alone on its host, so no other service reports it identically: the label decides.
    assert own_series([host, pod]) == [pod]


def _world(*, labelled: bool) -> Scenario:
    """web calls a and b; b's own CPU rises (the root); a sits alone on a host that a
    neighbour outside the incident loads ten times harder."""
    graph = ServiceGraph(
        services=[
            Service(name="web", depends_on=["a", "b"]),
            Service(name="a"),
            Service(name="b"),
        ]
    )
    rise = [*CALM, 40.0, 42.0, 41.0, 43.0, 40.0]
    host = "10.0.0.7" if labelled else None
    flat = [*CALM, *CALM[:5]]
    metrics = [
        _series("b", "cpu_usage_ratio", rise, None),
        _series("a", "cpu_usage_ratio", [v * 1.1 for v in flat], None),
        _series("web", "cpu_usage_ratio", [v * 1.2 for v in flat], None),
        _series("a", "node_cpu_usage_ratio", [*CALM, 95, 97, 98, 96, 97], host),
        _series("a", "node_memory_usage_ratio", [*CALM, 90, 91, 92, 90, 91], host),
        _series("b", "node_cpu_usage_ratio", [*CALM, 60, 61, 62, 60, 61], host and "10.0.0.8"),
    ]
    alert = {
        "status": "firing",
        "labels": {"alertname": "WebSlow", "service": "web", "severity": "critical"},
        "annotations": {"summary": "web is slow"},
        "startsAt": (T0 + 31 * MIN).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "00000000000000ab",
    }
    return Scenario(
        name="busy-host",
        topology=graph,
        alert_payloads=[{"version": "4", "status": "firing", "alerts": [alert]}],
        metrics=metrics,
    )


def test_a_busy_host_does_not_make_its_lone_service_the_root() -> None:
    _, [unlabelled] = run_offline(_world(labelled=False))
    # Without the scope the host's load reads as a's own, and a wins: the label matters.
    assert unlabelled.hypotheses[0].service == "a"
    _, [inv] = run_offline(_world(labelled=True))
    assert inv.hypotheses[0].service == "b"
    cited = {i for h in inv.hypotheses for i in h.evidence_ids}
    assert not any("node_" in i for i in cited)
    # The host's load is still reported: as the host's, in a's rejection, with its evidence.
    (busy,) = [r for r in inv.rejected if r.service == "a" and "host" in r.cause]
    assert busy.evidence_ids == [
        "ev-host-10-0-0-7-node_cpu_usage_ratio",
        "ev-host-10-0-0-7-node_memory_usage_ratio",
    ]
    assert "none of its own series moved" in busy.reason and "10.0.0.7" in busy.cause
    # b's host moved too, but b has evidence of its own: no rejection contradicts its rank.
    assert not [r for r in inv.rejected if r.service == "b"]
    items = {e.id: e for e in inv.evidence}
    host = items["ev-host-10-0-0-7-node_cpu_usage_ratio"]
    assert host.service is None and host.weight == 0.0
    assert host.finding.startswith("host 10.0.0.7 node_cpu_usage_ratio rose")


async def test_the_llm_tools_give_a_host_series_as_the_hosts() -> None:
    world = _world(labelled=True)
    source = BundleEvidenceSource(world)
    alerts = [
        a for p in world.alert_payloads for a in normalize(AlertmanagerWebhook.model_validate(p))
    ]
    batch = AlertBatch(batch_id="b1", environment="test", received_at=T0 + 32 * MIN, alerts=alerts)
    found = correlate(
        CorrelationInput(
            detections=detect(batch, world.topology).detections,
            open_incidents=[],
            environment="test",
        ),
        world.topology,
    )
    (incident,) = found.new_incidents
    tools = EvidenceTools(
        incident=incident,
        graph=world.topology,
        source=source.aligned(incident.alerts),
        window=window_of(incident, DEFAULT_CONFIG),
        config=DEFAULT_CONFIG,
        redactor=Redactor(),
    )
    raw = await tools.run(ToolCall("c1", "query_metrics", '{"service": "a"}'), max_chars=8000)
    ids = [item["id"] for item in json.loads(raw)["evidence"]]
    assert "ev-metric-a-cpu_usage_ratio" in ids
    assert "ev-host-10-0-0-7-node_cpu_usage_ratio" in ids
    assert not any(i.startswith("ev-metric-a-node_") for i in ids)
    assert tools.evidence["ev-host-10-0-0-7-node_cpu_usage_ratio"].service is None
