"""A storm at the edge: group commit, compressed history, the UI's codec, the history gate."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import Stack, app_stack, make_settings
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from incidentflow.codec import DATA_CONVERTER, ENCODING
from incidentflow.models import AlertBatch, AlertBatches, OpenIncident, StreamStats
from incidentflow.temporal import DevServer, connect
from workflows.names import stream_workflow_id


def storm_payload(n: int, tag: str) -> dict[str, Any]:
    """One Alertmanager notification of `n` alerts on the demo shop's services."""
    start = datetime.now(UTC) - timedelta(minutes=3)
    services = ["checkout", "payments", "cart", "frontend"]
    return {
        "version": "4",
        "groupKey": f"storm-{tag}",
        "status": "firing",
        "receiver": "incidentflow",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighErrorRate",
                    "service": services[i % len(services)],
                    "instance": f"pod-{tag}-{i}",
                    "severity": "critical",
                },
                "annotations": {"summary": f"errors on pod-{tag}-{i}"},
                "startsAt": (start + timedelta(seconds=i)).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, f"{tag}-{i}").hex[:16],
            }
            for i in range(n)
        ],
    }


def signals(history: Any) -> list[Any]:
    return [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


async def test_concurrent_deliveries_share_signals_and_every_alert_counts(stack: Stack) -> None:
    deliveries, size = 12, 150
    answers = await asyncio.gather(
        *(stack.post_alertmanager(storm_payload(size, f"c{k}")) for k in range(deliveries))
    )
    assert [a.status_code for a in answers] == [202] * deliveries
    handle = stack.client.get_workflow_handle(stream_workflow_id(stack.settings.environment))
    for _ in range(300):
        stats = await handle.query("stats", result_type=StreamStats)
        if stats.alerts_processed >= deliveries * size:
            break
        await asyncio.sleep(0.1)
    assert stats.alerts_received == deliveries * size
    assert stats.alerts_processed == deliveries * size
    assert stats.batches == deliveries
    # A signal that arrives while a workflow task runs is durable at once but enters the
    # history only when that task completes: read the history once the stream has caught up.
    history = await handle.fetch_history()
    sent = signals(history)
    # Group commit: what queued while a signal was out went in the next one.
    assert len(sent) < deliveries
    names = {s.signal_name for s in sent}
    assert "alert_batches" in names
    # Large signal payloads are compressed in history, and decode to every delivery.
    carried: list[AlertBatch] = []
    compressed = 0
    for s in sent:
        payload = s.input.payloads[0]
        compressed += payload.metadata.get("encoding") == ENCODING
        kind: type = AlertBatches if s.signal_name == "alert_batches" else AlertBatch
        [value] = await DATA_CONVERTER.decode([payload], [kind])
        carried += value.batches if isinstance(value, AlertBatches) else [value]
    assert compressed >= 1
    assert sorted(b.batch_id for b in carried) == sorted(
        a.json()["accepted"][0]["batch_id"] for a in answers
    )
    # Raw stays in the signal (what the sender sent); nothing is lost on the way to the stream.
    assert all(a.raw for b in carried for a in b.alerts)


async def test_the_ui_codec_endpoint_shows_compressed_payloads_as_json(
    dev_server: DevServer, tmp_path: Path
) -> None:
    ui = "http://127.0.0.1:8233"
    settings = make_settings(dev_server.address, tmp_path / "data", cors_origins=[ui])
    async with app_stack(settings, await connect(settings), queues=()) as stack:
        await _codec_round_trip(stack, ui)


async def _codec_round_trip(stack: Stack, ui: str) -> None:
    resp = await stack.post_alertmanager(storm_payload(200, "ui"))
    assert resp.status_code == 202
    handle = stack.client.get_workflow_handle(stream_workflow_id(stack.settings.environment))
    [signal] = signals(await handle.fetch_history())
    encoded = Payloads(payloads=[signal.input.payloads[0]])
    assert encoded.payloads[0].metadata["encoding"] == ENCODING
    # What the Temporal UI sends (protobuf JSON, base64 bytes) and expects back.
    preflight = await stack.http.options("/codec/decode", headers={"Origin": ui})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ui
    # CORS is closed to every other origin.
    other = await stack.http.options("/codec/decode", headers={"Origin": "https://evil.example"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    answer = await stack.http.post(
        "/codec/decode",
        content=json_format.MessageToJson(encoded),
        headers={"Content-Type": "application/json", "X-Namespace": "default", "Origin": ui},
    )
    assert answer.status_code == 200
    decoded = json_format.Parse(answer.text, Payloads()).payloads[0]
    assert decoded.metadata["encoding"] == b"json/plain"
    batch = json.loads(decoded.data)
    assert len(batch["alerts"]) == 200 and batch["alerts"][0]["labels"]["alertname"]
    bad = await stack.http.post(
        "/codec/decode", content=b'{"payloads": 7}', headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "payloads" in bad.json()["error"]


async def test_a_stream_run_near_its_history_limit_gets_503_until_it_hands_over(
    dev_server: DevServer, tmp_path: Path
) -> None:
    # A tiny limit stands in for 16 MB: the first delivery passes, the ones after it wait.
    settings = make_settings(dev_server.address, tmp_path / "data", max_stream_history_mb=0.01)
    client = await connect(settings)
    async with app_stack(settings, client, queues=("workflows",)) as stack:
        first = await stack.post_alertmanager(storm_payload(100, "h0"))
        assert first.status_code == 202
        for attempt in range(50):
            later = await stack.post_alertmanager(storm_payload(100, f"h{attempt + 1}"))
            if later.status_code == 503:
                break
            await asyncio.sleep(0.2)
        assert later.status_code == 503
        assert later.headers["Retry-After"]
        assert "INCIDENTFLOW_MAX_STREAM_HISTORY_MB" in later.json()["detail"]
        # A run that ended (here by hand) holds nothing back: the next delivery starts a new one.
        stream = client.get_workflow_handle(stream_workflow_id(settings.environment))
        await stream.terminate("test: an operator ended the stream")
        for attempt in range(50):
            after = await stack.post_alertmanager(storm_payload(100, f"n{attempt}"))
            if after.status_code == 202:
                break
            await asyncio.sleep(0.2)
        assert after.status_code == 202


def one_alert(name: str, service: str, severity: str, start: datetime) -> dict[str, Any]:
    fingerprint = uuid.uuid5(uuid.NAMESPACE_OID, f"{name}-{service}").hex[:16]
    return {
        "version": "4",
        "groupKey": f"{name}-{service}",
        "status": "firing",
        "receiver": "incidentflow",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": severity},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": start.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }


async def stats_after(handle: Any, processed: int) -> StreamStats:
    for _ in range(300):
        stats: StreamStats = await handle.query("stats", result_type=StreamStats)
        if stats.alerts_processed >= processed:
            return stats
        await asyncio.sleep(0.1)
    raise AssertionError(f"the stream did not process {processed} alert(s)")


async def test_a_lone_warning_joins_the_incident_its_related_alerts_open_later(
    stack: Stack,
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    handle = stack.client.get_workflow_handle(stream_workflow_id(stack.settings.environment))
    # The database's warning arrives alone: too quiet to page anyone, so nothing opens yet.
    warning = one_alert("PaymentsDbSlowQueries", "payments", "warning", start)
    assert (await stack.post_alertmanager(warning)).status_code == 202
    first = await stats_after(handle, 1)
    assert (first.incidents_opened, first.alerts_dropped) == (0, 1)
    # A minute later its caller fails loudly: the warning is part of that story.
    later = one_alert("CheckoutHighErrorRate", "checkout", "critical", start + timedelta(minutes=1))
    assert (await stack.post_alertmanager(later)).status_code == 202
    second = await stats_after(handle, 2)
    assert (second.incidents_opened, second.alerts_dropped) == (1, 0)
    [incident] = await handle.query("open_incidents", result_type=list[OpenIncident])
    fingerprints = {a["fingerprint"] for p in (warning, later) for a in p["alerts"]}
    assert set(incident.fingerprints) == fingerprints
    assert incident.origin_service == "payments"
