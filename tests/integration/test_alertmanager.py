"""A real Alertmanager from Debian posts to our webhook: one incident, duplicates, resolve."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from alertmanager_peer import alertmanager, http_ingest, post_to_alertmanager
from conftest import make_settings
from test_ingest_sources import stream_stats

from incidentflow.client import IncidentClient
from incidentflow.models import IncidentRecord
from incidentflow.temporal import DevServer, connect
from worker import run_workers


def prom_alert(name: str, service: str, *, ends: datetime | None = None) -> dict[str, object]:
    alert: dict[str, object] = {
        "labels": {"alertname": name, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{name} on {service}"},
        "generatorURL": "http://prometheus/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


async def test_real_alertmanager_forms_one_incident_and_resolves_it(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(
        dev_server.address, tmp_path / "data", ingest_tokens={"alertmanager": "am-token"}
    )
    client = await connect(settings)
    # The demo shop's cascade: payments fails, checkout (which calls it) alerts too.
    firing = [
        prom_alert("PaymentsHighErrorRate", "payments"),
        prom_alert("CheckoutHighLatency", "checkout"),
        prom_alert("CheckoutErrors", "checkout"),
    ]
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(settings, "default", stop=stop))
    try:
        async with http_ingest(settings) as ingest, httpx.AsyncClient(timeout=10) as http:
            url = f"{ingest}/v1/alerts/alertmanager"
            with alertmanager(tmp_path / "am", webhook_url=url, token="am-token") as am:
                await post_to_alertmanager(http, am, firing)
                await asyncio.sleep(1.5)
                # The same alerts again (Prometheus re-sends every evaluation).
                await post_to_alertmanager(http, am, firing)
                incident_id = await _one_incident(client, settings.environment, 3)
                ended = datetime.now(UTC) - timedelta(seconds=1)
                await post_to_alertmanager(
                    http, am, [{**a, "endsAt": ended.isoformat()} for a in firing]
                )
                record = await _resolved(client, incident_id)
        stats = await stream_stats(client, settings.environment)
    finally:
        stop.set()
        await workers
    assert stats.incidents_opened == 1
    assert record.incident.origin_service == "payments"
    assert len(record.incident.alerts) == 3
    assert {a.status.value for a in record.incident.alerts} == {"resolved"}
    assert any("resolved at their source" in e.summary for e in record.timeline)
    assert (tmp_path / "am" / "am.log").exists()


async def _one_incident(client: object, environment: str, alerts: int) -> str:
    async with asyncio.timeout(60):
        while True:
            found = await IncidentClient(client).open_incidents(environment)  # type: ignore[arg-type]
            if found and len(found[0].fingerprints) >= alerts:
                assert len(found) == 1, found
                return found[0].id
            await asyncio.sleep(0.2)


async def _resolved(client: object, incident_id: str) -> IncidentRecord:
    async with asyncio.timeout(60):
        while True:
            record = await IncidentClient(client).record(incident_id)  # type: ignore[arg-type]
            if record.incident.resolved_at is not None:
                return record
            await asyncio.sleep(0.2)
