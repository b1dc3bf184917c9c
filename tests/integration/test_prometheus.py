"""A real Prometheus (Debian's `prometheus` package) scrapes an exporter this test serves; the
investigation reads the series through the Prometheus HTTP API and cites them as PromQL.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from incidentflow.agents.investigation import investigate
from incidentflow.context import build_context
from incidentflow.models import (
    Alert,
    AlertStatus,
    EvidenceKind,
    Incident,
    InvestigationInput,
    Severity,
)
from incidentflow.settings import Settings
from incidentflow.temporal import free_port, port_open

# Long enough for a baseline of several scrapes, short enough for the suite.
NORMAL_S = 24
FAULT_S = 10


class _Exporter(BaseHTTPRequestHandler):
    """Serves `app_error_ratio` for two services; `orders` breaks when the test says so."""

    broken = False

    def do_GET(self) -> None:
        orders = 0.42 if _Exporter.broken else 0.01 + 0.002 * (int(time.time()) % 3)
        body = (
            "# TYPE app_error_ratio gauge\n"
            f'app_error_ratio{{service="orders"}} {orders}\n'
            f'app_error_ratio{{service="shop-api"}} {0.02 + 0.001 * (int(time.time()) % 2)}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """Prometheus on loopback scraping the exporter every second; its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "the `prometheus` binary is missing: install the Debian package `prometheus` "
            "(scripts/system-deps does it)"
        )
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: app\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{exporter.server_address[1]}']}}]\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        exporter.shutdown()


def _incident(onset: datetime) -> Incident:
    alert = Alert(
        fingerprint="prom-orders-1",
        source="alertmanager",
        name="HighErrorRate",
        status=AlertStatus.FIRING,
        labels={"alertname": "HighErrorRate", "service": "orders", "severity": "critical"},
        starts_at=onset,
    )
    return Incident(
        id="INC-prom-1",
        environment="test",
        title="orders error rate",
        severity=Severity.CRITICAL,
        origin_service="orders",
        services=["orders", "shop-api"],
        alerts=[alert],
        opened_at=onset,
    )


async def test_investigation_cites_promql_read_from_a_real_prometheus(
    prometheus: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n  - {name: shop-api, depends_on: [orders]}\n  - {name: orders}\n"
    )
    queries = tmp_path / "queries.yaml"
    queries.write_text('app_error_ratio: max(app_error_ratio{{service="{service}"}})\n')
    settings = Settings().replace(
        dict(
            catalog_path=catalog,
            prometheus_url=prometheus,
            prometheus_queries=queries,
            investigation_baseline_seconds=NORMAL_S + FAULT_S,
            investigation_pre_onset_seconds=0,
        )
    )
    await asyncio.sleep(NORMAL_S)
    _Exporter.broken = True
    onset = datetime.now(UTC)
    await asyncio.sleep(FAULT_S)
    async with httpx.AsyncClient() as http:
        up = (await http.get(f"{prometheus}/api/v1/query", params={"query": "up"})).json()
    assert up["data"]["result"], "prometheus has not scraped the exporter"

    ctx = build_context(settings)
    inv = await asyncio.to_thread(
        investigate,
        InvestigationInput(incident=_incident(onset)),
        ctx.graph,
        ctx.evidence,
        ctx.investigation,
    )

    top = inv.top
    assert top is not None and top.service == "orders"
    evidence = {e.id: e for e in inv.evidence}
    cited = evidence["ev-metric-orders-app_error_ratio"]
    assert cited.id in top.evidence_ids
    assert cited.kind is EvidenceKind.METRIC and cited.source == "prometheus"
    assert cited.query == 'max(app_error_ratio{service="orders"})'
    assert cited.link is not None and cited.link.startswith(f"{prometheus}/graph?g0.expr=")
    assert float(cited.attributes["incident_peak"]) > 0.3
    assert float(cited.attributes["baseline_median"]) < 0.05
    flat = evidence.get("ev-metric-shop-api-app_error_ratio")
    assert flat is None or "stayed at baseline" in flat.finding
