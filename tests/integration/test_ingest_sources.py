"""Every source through the real webhook and workers: auth, settle window, resolve marking."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import app_stack, make_settings
from temporalio.client import Client

from incidentflow.client import IncidentClient
from incidentflow.ingest import auth
from incidentflow.models import StreamStats
from incidentflow.temporal import DevServer, connect
from workflows.names import stream_workflow_id


def am_alert(name: str, service: str, status: str, at: datetime, fp: str) -> dict[str, object]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": at.isoformat(),
        "endsAt": (at + timedelta(minutes=1)).isoformat()
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }


def am_payload(*alerts: dict[str, object]) -> dict[str, object]:
    return {"version": "4", "status": "firing", "receiver": "incidentflow", "alerts": list(alerts)}


async def stream_stats(client: Client, environment: str) -> StreamStats:
    handle = client.get_workflow_handle(stream_workflow_id(environment))
    return await handle.query("stats", result_type=StreamStats)


async def wait_processed(client: Client, environment: str, alerts: int) -> StreamStats:
    async with asyncio.timeout(60):
        while True:
            stats = await stream_stats(client, environment)
            if stats.alerts_processed >= alerts:
                return stats
            await asyncio.sleep(0.2)


async def test_each_source_is_accepted_and_auth_is_enforced(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(
        dev_server.address,
        tmp_path,
        ingest_tokens={"pagerduty": "pd-token", "generic": "gen-token"},
        ingest_hmac_secrets={"grafana": "gf-secret"},
    )
    client = await connect(settings)
    now = datetime.now(UTC)
    grafana = {
        "receiver": "x",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Slow", "service": "checkout"},
                "startsAt": now.isoformat(),
            }
        ],
    }
    pd = {
        "routing_key": "k",
        "event_action": "trigger",
        "dedup_key": "pd-1",
        "payload": {"summary": "DB down", "source": "db-1", "severity": "critical"},
    }
    generic = {"alerts": [{"name": "Backlog", "labels": {"service": "orders"}}]}
    async with app_stack(settings, client, queues=("default",)) as stack:
        body = json.dumps(grafana).encode()
        as_json = {"Content-Type": "application/json"}
        unsigned = await stack.http.post("/v1/alerts/grafana", content=body, headers=as_json)
        assert unsigned.status_code == 401 and "grafana" in unsigned.json()["error"]
        signed = await stack.http.post(
            "/v1/alerts/grafana",
            content=body,
            headers=as_json | auth.signed_headers("gf-secret", body),
        )
        assert signed.status_code == 202, signed.text

        assert (await stack.http.post("/v1/alerts/pagerduty", json=pd)).status_code == 401
        resp = await stack.http.post(
            "/v1/alerts/pagerduty", json=pd, headers={"Authorization": "Bearer pd-token"}
        )
        assert resp.status_code == 202 and resp.json()["dedup_key"] == "pd-1"

        assert (await stack.http.post("/v1/alerts/generic", json=generic)).status_code == 401
        gen_auth = {"Authorization": "Bearer gen-token"}
        ok = await stack.http.post("/v1/alerts/generic", json=generic, headers=gen_auth)
        assert ok.status_code == 202, ok.text
        # Credentials for some sources: a source without any is refused, not open.
        am = {"version": "4", "status": "firing", "alerts": grafana["alerts"]}
        open_door = await stack.http.post("/v1/alerts/alertmanager", json=am)
        assert open_door.status_code == 401
        assert "no credentials configured" in open_door.json()["error"]
        bad = await stack.http.post(
            "/v1/alerts/generic", json={"alerts": [{"nme": "x"}]}, headers=gen_auth
        )
        assert bad.status_code == 422
        assert {f["field"] for f in bad.json()["fields"]} >= {"alerts.0.name", "alerts.0.nme"}
        assert (await stack.http.post("/v1/alerts/nagios", json={})).status_code == 404
        doc = (await stack.http.get("/openapi.json")).json()
        assert "/v1/alerts/pagerduty" in doc["paths"]

        stats = await wait_processed(client, settings.environment, 3)
        assert stats.alerts_received == 3 and stats.batches == 3


async def test_resolve_within_settle_window_opens_nothing_and_all_resolved_is_marked(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path, settle_seconds=2.0)
    client = await connect(settings)
    now = datetime.now(UTC) - timedelta(seconds=30)
    blip = am_alert("PaymentsHighErrorRate", "payments", "firing", now, "fp-blip")
    real = am_alert("CheckoutDown", "checkout", "firing", now, "fp-real")
    real2 = am_alert("CheckoutLatency", "checkout", "firing", now, "fp-real2")
    async with app_stack(settings, client, queues=("default",)) as stack:
        # The blip fires and resolves inside one settle window: no incident.
        assert (await stack.post_alertmanager(am_payload(blip))).status_code == 202
        blip_resolved = {**blip, "status": "resolved"}
        assert (await stack.post_alertmanager(am_payload(blip_resolved))).status_code == 202
        stats = await wait_processed(client, settings.environment, 2)
        assert stats.incidents_opened == 0
        assert await IncidentClient(client).open_incidents(settings.environment) == []

        # A real problem opens one incident; when both alerts resolve it is marked so.
        assert (await stack.post_alertmanager(am_payload(real, real2))).status_code == 202
        await wait_processed(client, settings.environment, 4)
        (inc,) = await IncidentClient(client).open_incidents(settings.environment)
        resolved = am_payload({**real, "status": "resolved"}, {**real2, "status": "resolved"})
        assert (await stack.post_alertmanager(resolved)).status_code == 202
        async with asyncio.timeout(60):
            while True:
                record = await IncidentClient(client).record(inc.id)
                if record.incident.resolved_at is not None:
                    break
                await asyncio.sleep(0.2)
        assert any("resolved at their source" in e.summary for e in record.timeline)
        assert {a.status.value for a in record.incident.alerts} == {"resolved"}


async def test_a_person_merges_two_incidents_recorded_in_both(
    dev_server: DevServer, tmp_path: Path
) -> None:
    from incidentflow.cli.moves import merge
    from incidentflow.models import MergeRequest

    settings = make_settings(dev_server.address, tmp_path)
    client = await connect(settings)
    now = datetime.now(UTC) - timedelta(seconds=30)
    a = [am_alert(f"PayErr{i}", "payments", "firing", now, f"fp-a{i}") for i in range(2)]
    # Three hours apart: correlation keeps them apart; a person knows better.
    later = now - timedelta(hours=3)
    b = [am_alert(f"PayLat{i}", "payments", "firing", later, f"fp-b{i}") for i in range(2)]
    async with app_stack(settings, client, queues=("default",)) as stack:
        assert (await stack.post_alertmanager(am_payload(*a, *b))).status_code == 202
        await wait_processed(client, settings.environment, 4)
        first, second = sorted(
            await IncidentClient(client).open_incidents(settings.environment),
            key=lambda i: i.opened_at,
        )
        count = await merge(
            client,
            MergeRequest(target=first.id, source=second.id, by="alice", reason="same deploy"),
        )
        assert count == 4
        target = await IncidentClient(client).record(first.id)
        source = await IncidentClient(client).record(second.id)
        async with asyncio.timeout(30):
            while True:
                index = await IncidentClient(client).open_incidents(settings.environment)
                if len(index) == 1:
                    break
                await asyncio.sleep(0.2)
        (left,) = index
    assert any(f"merged in from {second.id}" in e.summary for e in target.timeline)
    assert any(
        f"merged into {first.id}" in e.summary and e.actor == "alice" for e in source.timeline
    )
    assert len(target.incident.alerts) == 4
    assert left.id == first.id and set(left.fingerprints) == {"fp-a0", "fp-a1", "fp-b0", "fp-b1"}
