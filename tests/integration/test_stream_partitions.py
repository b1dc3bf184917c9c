"""Stream partitions are bounded (issue 14: one POST with 500 `environment` labels started 500
never-ending stream workflows): the excess goes to the default partition, with a warning."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import app_stack, make_settings
from test_ingest_sources import am_alert, am_payload, wait_processed

from incidentflow.temporal import DevServer, connect


async def test_excess_partitions_go_to_the_default_one(
    dev_server: DevServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(dev_server.address, tmp_path / "data", max_partitions=3)
    client = await connect(settings)
    base = settings.environment
    now = datetime.now(UTC)
    alerts = []
    for n in range(50):
        alert = am_alert(f"Err{n}", "payments", "firing", now, f"fp-{n}")
        alert["labels"] = {**alert["labels"], "environment": f"{base}-p{n}"}  # type: ignore[dict-item]
        alerts.append(alert)
    with caplog.at_level(logging.WARNING, logger="incidentflow.partitions"):
        async with app_stack(settings, client, queues=("default",)) as stack:
            resp = await stack.post_alertmanager(am_payload(*alerts))
            assert resp.status_code == 202, resp.text
            streams = {a["stream"]: a["alerts"] for a in resp.json()["accepted"]}
            # The default partition and two others; 48 alerts went to the default one.
            assert len(streams) == 3, streams
            assert streams[f"alerts-{base}"] == 48
            stats = await wait_processed(client, base, 48)
            assert stats.alerts_received == 48
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 48 and f"{base}-p49" in refused[-1].getMessage()
