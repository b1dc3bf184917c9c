"""The webhook's edge: 202 only when durable, 503 when Temporal is away, 4xx with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from conftest import Stack, make_settings
from flow import demo_payloads

from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id


async def test_accepted_batch_is_in_temporal_before_the_answer(stack: Stack) -> None:
    payload = demo_payloads()[1]
    resp = await stack.post_alertmanager(payload)
    assert resp.status_code == 202
    accepted = resp.json()["accepted"]
    assert accepted[0]["alerts"] == len(payload["alerts"])
    # Durable means Temporal already holds the signal, before any worker processed it.
    handle = stack.client.get_workflow_handle(stream_workflow_id(stack.settings.environment))
    history = await handle.fetch_history()
    signals = [
        e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals, "the batch must be recorded as a signal"


async def test_same_delivery_twice_is_one_batch(stack: Stack) -> None:
    payload = demo_payloads()[1]
    first = (await stack.post_alertmanager(payload)).json()["accepted"][0]["batch_id"]
    second = (await stack.post_alertmanager(payload)).json()["accepted"][0]["batch_id"]
    assert first == second


async def test_malformed_payloads_get_4xx_with_the_reason(stack: Stack) -> None:
    resp = await stack.http.post(
        "/v1/alerts/alertmanager",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 400 and "not JSON" in resp.json()["error"]

    bad = demo_payloads()[1]
    del bad["alerts"][0]["labels"]
    bad["version"] = "3"
    resp = await stack.post_alertmanager(bad)
    assert resp.status_code == 422
    fields = {f["field"] for f in resp.json()["fields"]}
    assert {"version", "alerts.0.labels"} <= fields

    resp = await stack.post_alertmanager({"version": "4", "status": "firing", "alerts": []})
    assert resp.status_code == 422


async def test_oversized_body_is_413(dev_server: DevServer, tmp_path: Path) -> None:
    settings = make_settings(dev_server.address, tmp_path, max_body_bytes=1024)
    app = create_app(settings, TemporalSink(await connect(settings), settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        resp = await http.post(
            "/v1/alerts/alertmanager",
            content=json.dumps(demo_payloads()[1]),
            headers={"Content-Type": "application/json"},
        )
    assert resp.status_code == 413


async def test_temporal_outage_is_503_with_retry_after(tmp_path: Path) -> None:
    # Its own server, so killing it leaves the session's alone.
    server = DevServer(
        db_file=tmp_path / "t.sqlite", port=free_port(), ui_port=free_port(), log_file=None
    )
    server.start()
    try:
        settings = make_settings(server.address, tmp_path, accept_timeout_seconds=2.0)
        app = create_app(settings, TemporalSink(await connect(settings), settings))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            assert (await http.get("/readyz")).status_code == 200
            server.kill()
            resp = await http.post("/v1/alerts/alertmanager", json=demo_payloads()[1])
            ready = await http.get("/readyz")
            live = await http.get("/healthz")
    finally:
        server.stop()
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"].isdigit()
    assert "retry" in resp.json()["error"]
    assert ready.status_code == 503 and live.status_code == 200
