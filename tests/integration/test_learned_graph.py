"""Issue 13 item 2 against a real Prometheus (Debian's package): with no catalog, the service
graph is learned from the Tempo and Istio service-graph series it scrapes, so a `frontend` alert
a minute after a `payments` alert joins the payments incident instead of opening a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import app_stack, make_settings
from prometheus_peer import running_prometheus
from remediation_flow import until

from incidentflow.client import IncidentClient
from incidentflow.context import build_context
from incidentflow.graphs.book import LearnerState
from incidentflow.models import OpenIncident
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect

pytestmark = pytest.mark.slow

# frontend -> checkout from Tempo's series, checkout -> payments from Istio's: two hops, so
# the join needs both default queries. `user` and `unknown` are placeholders, never services.
EDGES_SERIES = (
    "# TYPE traces_service_graph_request_total counter\n"
    'traces_service_graph_request_total{{client="frontend",server="checkout"}} {n}\n'
    'traces_service_graph_request_total{{client="user",server="frontend"}} {n}\n'
    "# TYPE istio_requests_total counter\n"
    'istio_requests_total{{reporter="source",source_workload="checkout",'
    'destination_workload="payments"}} {n}\n'
    'istio_requests_total{{reporter="source",source_workload="unknown",'
    'destination_workload="payments"}} {n}\n'
)


class _ServiceGraphExporter(BaseHTTPRequestHandler):
    """What a Tempo metrics-generator and an Istio sidecar export: request counters per edge."""

    def do_GET(self) -> None:
        body = EDGES_SERIES.format(n=int(time.time() * 10)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def serving_edges(folder: Path) -> Iterator[str]:
    """Prometheus scraping the service-graph exporter every second, once it has a rate."""
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _ServiceGraphExporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{exporter.server_address[1]}"
    try:
        with running_prometheus(folder, {"mesh": [target]}) as url:
            deadline = time.monotonic() + 30
            # Two scrapes make a rate; until then the graph queries rightly find no edge.
            while not _has_rate(url):
                assert time.monotonic() < deadline, "Prometheus never had a rate of the series"
                time.sleep(0.5)
            yield url
    finally:
        exporter.shutdown()


def _has_rate(url: str) -> bool:
    query = "sum(rate(istio_requests_total[1m])) > 0"
    resp = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
    return bool(resp.json()["data"]["result"])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    with serving_edges(tmp_path / "prometheus") as url:
        yield url


def alert(fp: str, service: str, at: datetime) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": service, "severity": "critical"},
        "annotations": {"summary": f"{service} 5xx above 5%"},
        "startsAt": at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }


def payload(*alerts: dict[str, object]) -> dict[str, object]:
    return {"version": "4", "status": "firing", "receiver": "incidentflow", "alerts": list(alerts)}


async def test_alerts_a_minute_apart_form_one_incident_over_the_learned_graph(
    dev_server: DevServer, tmp_path: Path, prometheus: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="incidentflow.graph")
    settings = make_settings(
        dev_server.address, tmp_path / "data", evidence_bundle=None, prometheus_url=prometheus
    )
    assert settings.graph.catalog_path is None
    client = await connect(settings)
    now = datetime.now(UTC)
    async with app_stack(settings, client) as stack:
        first = payload(alert("fp-payments", "payments", now - timedelta(minutes=1)))
        assert (await stack.post_alertmanager(first)).status_code == 202
        opened: list[OpenIncident] = []

        async def holding(fp: str) -> bool:
            nonlocal opened
            opened = await IncidentClient(client).open_incidents(settings.environment)
            return any(fp in inc.fingerprints for inc in opened)

        await until(lambda: holding("fp-payments"))
        second = payload(alert("fp-frontend", "frontend", now))
        assert (await stack.post_alertmanager(second)).status_code == 202
        await until(lambda: holding("fp-frontend"))
        record = await IncidentClient(client).record(opened[0].id)
    assert len(opened) == 1, [(i.id, i.services) for i in opened]
    # The agents' worker says what it learned, as `up` would have said what it learns from.
    said = [r.getMessage() for r in caplog.records if r.name == "incidentflow.graph"]
    assert (
        "service graph now: learned: 2 edges from prometheus service-graph metrics; 3 services"
        in said
    ), said
    assert set(opened[0].fingerprints) == {"fp-payments", "fp-frontend"}
    assert opened[0].origin_service == "payments"
    (symptom,) = record.incident.downstream
    assert [(e.caller, e.callee) for e in symptom.path] == [
        ("frontend", "checkout"),
        ("checkout", "payments"),
    ]


async def test_a_prometheus_that_goes_down_keeps_the_edges_it_gave(tmp_path: Path) -> None:
    with serving_edges(tmp_path / "prometheus") as url:
        ctx = build_context(Settings().replace(dict(prometheus_url=url, data_dir=tmp_path)))
        assert ctx.graph_line().startswith("empty until learned")  # nothing contacted yet
        graph = await ctx.graph_for()
    edges = sorted((s.name, d) for s in graph.services for d in s.depends_on)
    assert edges == [("checkout", "payments"), ("frontend", "checkout")]
    line = ctx.graph_line()
    assert line.startswith("learned: 2 edges from prometheus service-graph metrics; 3 services")
    # Prometheus has stopped: the next refresh records why and the edges stay.
    await asyncio.to_thread(ctx.book.refresh)
    (prom,) = ctx.book.statuses()
    assert prom.state is LearnerState.ERROR and "did not answer" in prom.reason
    assert sorted((s.name, d) for s in ctx.book.snapshot().services for d in s.depends_on) == edges
    assert f"prometheus {url} unavailable" in ctx.graph_line()
