"""A running alert stream reads its settings from its worker (issue 17 item 5).

The stream's input names only its environment; the settle window and the queues come from the
`stream_config` activity on the stream's own task queue, read again once older than
`stream_config_seconds`. A worker restarted with another settle window changes how the same,
still-running stream treats the next alerts.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import app_stack, make_settings
from temporalio.api.enums.v1 import EventType
from test_ingest_sources import am_alert, am_payload, wait_processed

from incidentflow.temporal import DevServer, connect
from workflows.names import stream_workflow_id


async def test_a_changed_settle_window_reaches_a_running_stream(
    dev_server: DevServer, tmp_path: Path
) -> None:
    before = make_settings(
        dev_server.address, tmp_path, settle_seconds=0.0, stream_config_seconds=0.0
    )
    client = await connect(before)
    env = before.environment
    at = datetime.now(UTC) - timedelta(seconds=30)
    first = am_alert("PaymentsHighErrorRate", "payments", "firing", at, "fp-first")
    async with app_stack(before, client, queues=("default",)) as stack:
        # No settle window: a lone alert is correlated at once and opens an incident.
        assert (await stack.post_alertmanager(am_payload(first))).status_code == 202
        stats = await wait_processed(client, env, 1)
        assert stats.incidents_opened == 1
    handle = client.get_workflow_handle(stream_workflow_id(env))
    run_id = (await handle.describe()).run_id

    # The same stream, a worker with a settle window now: a blip that fires and resolves
    # inside it opens nothing (with the first start's window, the firing half would).
    after = before.replace({"settle_seconds": 4.0})
    blip = am_alert("CheckoutDown", "checkout", "firing", at, "fp-blip")
    async with app_stack(after, client, queues=("default",)) as stack:
        assert (await stack.post_alertmanager(am_payload(blip))).status_code == 202
        await asyncio.sleep(1.0)
        resolved = am_payload({**blip, "status": "resolved"})
        assert (await stack.post_alertmanager(resolved)).status_code == 202
        stats = await wait_processed(client, env, 3)
        assert stats.incidents_opened == 1, stats
    assert (await handle.describe()).run_id == run_id, "the stream did not restart"

    events = [e async for e in handle.fetch_history_events()]
    reads = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "stream_config"
    ]
    assert len(reads) >= 2
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timers == [4], timers
