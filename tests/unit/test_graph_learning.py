"""The learned service graph (issue 13 item 2): edges from spans and from alert labels, how they
merge with a catalog, and what `up` says about them. Prometheus learning runs against the real
server in tests/integration/test_learned_graph.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.context import build_context, load_catalog
from incidentflow.errors import ConfigError
from incidentflow.evidence import SpanRecord
from incidentflow.graphs.book import MAX_LABEL_EDGES, GraphBook, GraphPlan
from incidentflow.graphs.edges import merge
from incidentflow.graphs.labels import PeerLabels
from incidentflow.graphs.prometheus import GraphQuery, check_query
from incidentflow.graphs.spans import edges_from_spans
from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertStatus,
    CorrelationInput,
    Service,
    ServiceGraph,
)
from incidentflow.scenario import load_scenario
from incidentflow.settings import Settings

REPO = Path(__file__).resolve().parents[2]
# A recorded world whose bundle holds traces (spans.jsonl) as well as its topology.
TRACED = REPO / "scenarios" / "shop-cart-bad-deploy"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def span(trace: str, sid: str, parent: str | None, service: str) -> SpanRecord:
    return SpanRecord(
        trace_id=trace,
        span_id=sid,
        parent_id=parent,
        service=service,
        operation=f"{service} op",
        start=T0,
        end=T0 + timedelta(milliseconds=5),
    )


def alert(fp: str, labels: dict[str, str], at: datetime = T0) -> Alert:
    return Alert(
        fingerprint=fp,
        source="alertmanager",
        name="HighErrorRate",
        status=AlertStatus.FIRING,
        labels={"alertname": "HighErrorRate", "severity": "critical", **labels},
        starts_at=at,
    )


def edges(graph: ServiceGraph) -> set[tuple[str, str]]:
    return {(s.name, d) for s in graph.services for d in s.depends_on}


def test_a_child_span_on_another_service_is_a_call_from_its_parents_service() -> None:
    spans = [
        span("t1", "a", None, "frontend"),
        span("t1", "b", "a", "frontend"),  # same service: an internal span, no edge
        span("t1", "c", "b", "checkout"),
        span("t1", "d", "c", "payments"),
        span("t1", "e", "c", "payments"),  # the same call twice is one edge
        span("t2", "a", None, "search"),  # span ids repeat across traces
        span("t2", "x", "gone", "catalog"),  # parent cut off by the window: nothing learned
    ]
    assert edges_from_spans(spans) == {("frontend", "checkout"), ("checkout", "payments")}


async def test_a_bundles_traces_are_learned_and_agree_with_its_topology() -> None:
    ctx = build_context(Settings().replace(dict(evidence_bundle=TRACED)))
    declared = load_scenario(TRACED).topology
    assert ctx.graph_line().startswith(f"bundle {TRACED} (its topology): ")
    assert "also learning from spans (bundle)" in ctx.graph_line()
    graph = await ctx.graph_for()
    (learner,) = ctx.book.statuses()
    assert learner.state.value == "ok" and learner.edges
    # The recorded traces only show calls the topology declares; nothing new, nothing reversed.
    assert learner.edges <= edges(declared)
    assert edges(graph) == edges(declared)
    n = len(learner.edges)
    assert f"merged with learned: {n} edge{'s' if n > 1 else ''} from spans; " in ctx.graph_line()
    assert ctx.graph_line().endswith("(the declared topology wins on conflicts)")
    await ctx.graph_for([alert("fp", {"service": "cart", "peer_service": "ledger"})])
    assert f"learned: {n} edge{'s' if n > 1 else ''} from spans, 1 from alert labels; " in (
        ctx.graph_line()
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"service": "frontend", "peer_service": "payments"}, ("frontend", "payments")),
        # Tempo's service-graph alerts: client and server are the two ends.
        ({"client": "frontend", "server": "checkout"}, ("frontend", "checkout")),
        # Istio's: the workloads are the ends, whatever the alert's own service label says.
        (
            {"service": "mesh", "source_workload": "checkout", "destination_workload": "payments"},
            ("checkout", "payments"),
        ),
        # Only a caller named: it calls the alert's own service.
        ({"app": "payments", "source_workload": "checkout"}, ("checkout", "payments")),
        ({"service": "payments"}, None),
        ({"service": "payments", "source_workload": "unknown"}, None),
        ({"peer_service": "payments"}, None),  # no own service: one end is missing
        ({"service": "payments", "peer_service": "payments"}, None),
    ],
)
def test_alert_labels_that_name_a_peer_give_an_edge(
    labels: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert PeerLabels().edge(alert("fp", labels)) == expected


def test_the_peer_labels_are_a_setting() -> None:
    rules = PeerLabels(callee=("upstream_cluster",), caller=())
    assert rules.edge(alert("fp", {"service": "edge", "upstream_cluster": "api"})) == (
        "edge",
        "api",
    )
    assert rules.edge(alert("fp", {"service": "edge", "peer_service": "api"})) is None
    ctx = build_context(
        Settings().replace(dict(graph_callee_labels=["upstream_cluster"], graph_caller_labels=[]))
    )
    assert "alert labels (upstream_cluster)" in ctx.graph_line()


def test_the_catalog_wins_on_conflicts_and_learned_edges_fill_its_gaps() -> None:
    catalog = ServiceGraph(
        services=[
            Service(name="checkout", owner="team-pay", depends_on=["payments"]),
            Service(name="payments", owner="team-pay"),
        ]
    )
    learned = {("payments", "checkout"), ("frontend", "checkout"), ("checkout", "payments")}
    merged = merge(catalog, learned)
    assert merged.overruled == (("payments", "checkout"),)
    assert edges(merged.graph) == {("checkout", "payments"), ("frontend", "checkout")}
    assert merged.added == 1
    payments = merged.graph.get("payments")
    assert payments is not None and payments.owner == "team-pay" and payments.depends_on == []
    frontend = merged.graph.get("frontend")
    assert frontend is not None and frontend.owner == "unowned"


async def test_with_no_catalog_alert_labels_join_what_would_split(tmp_path: Path) -> None:
    payments = alert("fp-pay", {"service": "payments"}, T0)
    frontend = alert(
        "fp-web", {"service": "frontend", "peer_service": "payments"}, T0 + timedelta(minutes=1)
    )
    batch = AlertBatch(
        batch_id="b", environment="prod", received_at=T0, alerts=[payments, frontend]
    )
    empty = ServiceGraph(services=[])
    split = correlate(
        CorrelationInput(detections=detect(batch, empty).detections, open_incidents=[]), empty
    )
    assert len(split.new_incidents) == 2  # what happened before: one fault, two incidents

    ctx = build_context(Settings().replace(dict(data_dir=tmp_path)))
    assert ctx.graph_line().startswith("empty until learned: no INCIDENTFLOW_CATALOG_PATH")
    graph = await ctx.graph_for(batch.alerts)
    assert edges(graph) == {("frontend", "payments")}
    found = correlate(
        CorrelationInput(detections=detect(batch, graph).detections, open_incidents=[]), graph
    )
    (incident,) = found.new_incidents
    assert incident.origin_service == "payments"
    assert {a.fingerprint for a in incident.alerts} == {"fp-pay", "fp-web"}
    assert ctx.graph_line() == "learned: 1 edge from alert labels; 2 services"


async def test_edges_from_labels_merge_into_a_catalog_and_expire(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n  - {name: checkout, depends_on: [payments]}\n  - {name: payments}\n"
    )
    now = [T0]
    plan = GraphPlan(
        declared=load_catalog(catalog),
        declared_origin=f"catalog {catalog}",
        labels=PeerLabels(),
        label_ttl=timedelta(hours=1),
    )
    book = GraphBook(plan, clock=lambda: now[0])
    assert book.describe() == f"catalog {catalog}: 2 services; also learning from alert labels " + (
        "(peer_service, server, destination_workload, destination_service_name, client, "
        "source_workload, source_service_name), nothing learned yet"
    )
    graph = await book.graph(
        [
            alert("a", {"service": "frontend", "peer_service": "checkout"}),
            alert("b", {"service": "payments", "peer_service": "checkout"}),  # reverses it
        ]
    )
    assert edges(graph) == {("checkout", "payments"), ("frontend", "checkout")}
    assert book.describe() == (
        f"catalog {catalog}, merged with learned: 2 edges from alert labels; 3 services "
        "(the catalog wins on conflicts: 1 learned edges overruled)"
    )
    now[0] = T0 + timedelta(hours=2)  # no alert has named the calls for longer than the TTL
    assert edges(book.snapshot()) == {("checkout", "payments")}


def test_learning_can_be_turned_off_and_a_bad_setting_is_one_line() -> None:
    off = build_context(Settings().replace(dict(graph_learn=[])))
    assert off.graph_line() == "empty: no INCIDENTFLOW_CATALOG_PATH and learning is off"
    with pytest.raises(ConfigError, match=r"^INCIDENTFLOW_GRAPH_LEARN: unknown 'traces'"):
        build_context(Settings().replace(dict(graph_learn=["traces"])))
    with pytest.raises(ConfigError, match=r"^INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES: each entry"):
        build_context(
            Settings().replace(
                dict(prometheus_url="http://prom:9090", graph_prometheus_queries=[{"query": "x"}])
            )
        )


@pytest.mark.parametrize(
    ("query", "caller", "callee", "problem"),
    [
        ("sum by (client) (rate(x[5m]))", "client", "server", "aggregates 'server' away"),
        ("sum without (server) (rate(x[5m]))", "client", "server", "aggregates 'server' away"),
        ('sum by (a, b) (x{job="{service}"}', "a", "b", "unbalanced brackets"),
        ("sum by (a, b) (x{service})", "a", "b", "has a {placeholder}"),
        ("x", "client-name", "server", "not a Prometheus label name"),
        ("x", "client", "client", "caller and callee are both"),
    ],
)
def test_graph_queries_are_checked_at_start(
    query: str, caller: str, callee: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=r"^INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES: ") as err:
        check_query(GraphQuery(query=query, caller=caller, callee=callee))
    assert problem in str(err.value) and "\n" not in str(err.value)
    # The same mistake stops a worker at start, before anything is contacted.
    bad = [{"query": query, "caller": caller, "callee": callee}]
    with pytest.raises(ConfigError, match=problem.replace("{", r"\{").replace("(", r"\(")):
        build_context(
            Settings().replace(
                dict(prometheus_url="http://prom:9090", graph_prometheus_queries=bad)
            )
        )


def test_the_default_graph_queries_pass_their_own_check_and_up_names_them() -> None:
    for q in Settings().graph.graph_prometheus_queries:
        check_query(GraphQuery.model_validate(q))
    ctx = build_context(Settings().replace(dict(prometheus_url="http://prom:9090")))
    line = ctx.graph_line()
    assert line.startswith("empty until learned: no INCIDENTFLOW_CATALOG_PATH; learning from ")
    assert "prometheus service-graph metrics (prometheus http://prom:9090) every 300 s" in line


async def test_made_up_peers_in_a_storm_cannot_grow_the_graph_without_bound() -> None:
    book = GraphBook(
        GraphPlan(declared=ServiceGraph(services=[]), declared_origin=None, labels=PeerLabels())
    )
    storm = [
        alert(f"fp{i}", {"service": "frontend", "peer_service": f"svc-{i}"})
        for i in range(MAX_LABEL_EDGES + 10)
    ]
    graph = await book.graph(storm)
    assert len(edges(graph)) == MAX_LABEL_EDGES
    assert ("frontend", "svc-0") not in edges(graph)  # the oldest went first
    assert ("frontend", f"svc-{MAX_LABEL_EDGES + 9}") in edges(graph)
