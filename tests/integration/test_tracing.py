"""One trace from the webhook request through the signal, both workflows and the activities,
down to each evidence query (the real Prometheus; loopback Loki and change log peers; a
recording kubectl); replaying a history adds no spans."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import Stack, app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_peer import running_prometheus
from temporalio.client import WorkflowHistory
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Replayer

from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.codec import DATA_CONVERTER
from incidentflow.models import IncidentState
from incidentflow.telemetry import EVIDENCE_QUERY, EVIDENCE_SOURCE, INCIDENT_ID
from incidentflow.temporal import DevServer, connect
from worker import WORKFLOWS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from live_peers import Peer, install_kubectl, serve

HISTORY = Path(__file__).resolve().parents[1] / "histories" / "happy_incident.json"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider, exporting to memory (set once per process)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.fail("another test installed a tracer provider first")
    yield exporter


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """Names of the span's ancestors, nearest first."""
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        found = by_id[parent.span_id]
        names.append(found.name)
        parent = found.parent
    return names


@pytest.fixture
async def live_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Stack, Peer]]:
    """The app with the demo bundle and every live evidence source enabled; the Loki peer."""
    kubectl = install_kubectl(tmp_path / "bin", {"output": {"kind": "List", "items": []}})
    with (
        running_prometheus(tmp_path / "prometheus", {}) as prometheus,
        serve(Peer()) as loki,
        serve(Peer()) as changelog,
    ):
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            evidence_bundle=demo_scenario_path(),
            prometheus_url=prometheus,
            loki_url=loki.url,
            changelog_url=changelog.url,
            kubectl_changes=True,
            kubectl_binary=str(kubectl / "kubectl"),
        )
        async with app_stack(settings, await connect(settings)) as stack:
            yield stack, loki


async def test_one_trace_from_webhook_to_every_activity(
    spans: InMemorySpanExporter, live_stack: tuple[Stack, Peer]
) -> None:
    stack, loki = live_stack
    spans.clear()
    payloads = demo_payloads()
    for payload in payloads:
        assert (await stack.post_alertmanager(payload)).status_code == 202
    incident_id = await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )
    await wait_for_state(stack.client, incident_id, {IncidentState.AWAITING_APPROVAL})

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    first_request = min(
        (s for s in finished if s.name == "POST /v1/alerts/alertmanager"),
        key=lambda s: s.start_time or 0,
    )
    same_trace = [s for s in finished if s.context.trace_id == first_request.context.trace_id]
    names = {s.name for s in same_trace}
    for expected in (
        "SignalWithStartWorkflow:AlertStreamWorkflow",
        "RunWorkflow:AlertStreamWorkflow",
        "RunActivity:detect",
        "RunActivity:correlate",
        "StartChildWorkflow:IncidentWorkflow",
        "RunWorkflow:IncidentWorkflow",
        "RunActivity:investigate",
        "RunActivity:plan_remediation",
    ):
        assert expected in names, f"{expected} missing from the request's trace: {sorted(names)}"
    investigate = next(s for s in same_trace if s.name == "RunActivity:investigate")
    investigations = {s.context.span_id for s in same_trace if s.name == "RunActivity:investigate"}
    chain = ancestors(investigate, by_id)
    assert chain[-1] == "POST /v1/alerts/alertmanager", chain
    # webhook request -> signal-with-start -> stream starts the incident -> it schedules
    # the investigation -> the agents' worker runs it.
    assert chain[:2] == ["StartActivity:investigate", "StartChildWorkflow:IncidentWorkflow"], chain
    assert (investigate.attributes or {}).get("temporalWorkflowID") == incident_id

    # Down to the evidence: each query of each live source is a child of the investigation.
    queries = [
        s for s in same_trace if s.name.startswith("evidence ") and not s.name.endswith("-graph")
    ]
    # Learning the service graph reads Prometheus too, inside the agent that needed the graph.
    for span in same_trace:
        if span.name.endswith("-graph"):
            parent = by_id.get(span.parent.span_id) if span.parent else None
            assert parent is not None and parent.name.startswith("RunActivity:"), span.name
    by_source: dict[str, list[str]] = {}
    for span in queries:
        attrs = span.attributes or {}
        # Each investigation of the incident (it re-investigates as alerts join) owns its queries.
        assert span.parent is not None and span.parent.span_id in investigations
        assert attrs.get(INCIDENT_ID) == incident_id, span.name
        by_source.setdefault(str(attrs[EVIDENCE_SOURCE]), []).append(str(attrs[EVIDENCE_QUERY]))
    assert set(by_source) == {"prometheus", "loki", "changelog", "kubernetes"}, by_source
    assert sorted(by_source["loki"]) == sorted(p["query"] for p in loki.params)
    assert any('service="payments"' in q for q in by_source["prometheus"]), by_source
    assert any("service=payments" in q for q in by_source["changelog"]), by_source
    # One kubectl read per investigation (it re-investigates as alerts join, over more services).
    assert by_source["kubernetes"], by_source
    kubectl = by_source["kubernetes"][0]
    assert " get replicasets " in kubectl and "payments" in kubectl, kubectl


async def test_replaying_a_history_adds_no_spans(spans: InMemorySpanExporter) -> None:
    spans.clear()
    history = WorkflowHistory.from_json("happy_incident", HISTORY.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        interceptors=[TracingInterceptor()],
    )
    await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert spans.get_finished_spans() == ()
