"""The webhook's edge: 202 only when durable, 503 when Temporal is away, 4xx with reasons."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import Stack, make_settings
from flow import demo_payloads

from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect, free_port, port_open
from workflows.names import stream_workflow_id

ROOT = Path(__file__).resolve().parents[2]


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


def _serve_webhook(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "starter.py", "serve-webhook", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")}
    return env | values


async def test_webhook_starts_without_temporal_and_answers_503_until_it_connects(
    tmp_path: Path,
) -> None:
    # Issue 14, finding 8: started while Temporal was down, the webhook exited, and senders
    # got "connection refused" instead of a 503 they retry.
    temporal_port, webhook_port = free_port(), free_port()
    env = _clean_env(
        INCIDENTFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        INCIDENTFLOW_WEBHOOK_PORT=str(webhook_port),
        INCIDENTFLOW_DATA_DIR=str(tmp_path / "data"),
        INCIDENTFLOW_ENVIRONMENT="finding-8",
        INCIDENTFLOW_ACCEPT_TIMEOUT_SECONDS="3",
    )
    log = tmp_path / "webhook.log"
    proc = _serve_webhook(env, log)
    server = DevServer(
        db_file=tmp_path / "t.sqlite", port=temporal_port, ui_port=free_port(), log_file=None
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{webhook_port}") as http:
            async with asyncio.timeout(60):
                while not port_open("127.0.0.1", webhook_port):
                    assert proc.poll() is None, log.read_text()
                    await asyncio.sleep(0.2)
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"].isdigit()
            assert "not reachable" in ready.json()["error"], ready.json()
            assert str(temporal_port) in ready.json()["error"]
            resp = await http.post("/v1/alerts/alertmanager", json=demo_payloads()[1])
            assert resp.status_code == 503 and resp.headers["retry-after"].isdigit()
            assert (await http.get("/healthz")).status_code == 200

            await asyncio.to_thread(server.start)
            async with asyncio.timeout(60):
                while True:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                    await asyncio.sleep(0.5)
            resp = await http.post("/v1/alerts/alertmanager", json=demo_payloads()[1])
            assert resp.status_code == 202, resp.text
        client = await connect(make_settings(server.address, tmp_path))
        stream = client.get_workflow_handle(stream_workflow_id("finding-8"))
        assert (await stream.describe()).status is not None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        server.stop()


def test_an_exposed_webhook_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    env = _clean_env(
        INCIDENTFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        INCIDENTFLOW_WEBHOOK_HOST="0.0.0.0",
        INCIDENTFLOW_WEBHOOK_PORT=str(free_port()),
        INCIDENTFLOW_DATA_DIR=str(tmp_path / "data"),
    )
    done = subprocess.run(
        [sys.executable, "starter.py", "serve-webhook"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    [line] = done.stderr.strip().splitlines()
    assert "0.0.0.0" in line and "--insecure" in line and "INCIDENTFLOW_INGEST_TOKENS" in line
