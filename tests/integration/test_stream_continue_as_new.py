"""The stream hands over before Temporal's limits (lowered by dynamic config), losing nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import app_stack, make_settings
from test_ingest_sources import am_alert, am_payload, wait_processed

from incidentflow.client import IncidentClient
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id

BATCHES = 40
PER_BATCH = 5


async def test_continue_as_new_carries_the_index_and_counts_every_alert(tmp_path: Path) -> None:
    server = DevServer(
        db_file=tmp_path / "t.sqlite",
        port=free_port(),
        ui_port=free_port(),
        log_file=tmp_path / "server.log",
        # The server suggests continue-as-new after 40 events instead of 4,096, and would
        # fail the run at 600 instead of 51,200: the stream must hand over many times.
        dynamic_config={
            "limit.historyCount.suggestContinueAsNew": "40",
            "limit.historyCount.warn": "300",
            "limit.historyCount.error": "600",
        },
    )
    server.start()
    try:
        settings = make_settings(server.address, tmp_path / "data")
        client = await connect(settings)
        start = datetime.now(UTC) - timedelta(minutes=1)
        async with app_stack(settings, client, queues=("default",)) as stack:

            async def send(b: int) -> None:
                alerts = [
                    am_alert(f"Err{b}x{i}", "payments", "firing", start, f"fp-{b}-{i}")
                    for i in range(PER_BATCH)
                ]
                resp = await stack.post_alertmanager(am_payload(*alerts))
                assert resp.status_code == 202, resp.text

            # Waves of 8 concurrent clients; each wave is processed before the next.
            for b in range(0, BATCHES, 8):
                await asyncio.gather(*(send(i) for i in range(b, min(b + 8, BATCHES))))
                await wait_processed(client, settings.environment, (b + 8) * PER_BATCH)
            total = BATCHES * PER_BATCH
            stats = await wait_processed(client, settings.environment, total)
            (inc,) = await IncidentClient(client).open_incidents(settings.environment)
        assert stats.alerts_received == stats.alerts_processed == total
        assert stats.runs >= 3, "the lowered limits must force several hand-overs"
        # One incident holds every alert: the index crossed every hand-over.
        assert stats.incidents_opened == 1
        assert len(inc.fingerprints) == total
        handle = client.get_workflow_handle(stream_workflow_id(settings.environment))
        desc = await handle.describe()
        assert desc.run_id != desc.raw_description.workflow_execution_info.first_run_id
    finally:
        server.stop()
