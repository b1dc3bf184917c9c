"""No poison pill (issue 14): what the edge lets in, the agents can process; what an agent
still cannot process is quarantined with its error, and the next good alert goes through.

The edge classes are real payloads through the real webhook. The agent classes need an agent
that fails on valid input, which the shipped rules engines no longer do for any input we know:
the real detection and correlation functions are wrapped to raise on one alert name (a stand-in
for the next such bug), and everything around them (activity, retries, stream) is real.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack
from test_ingest_sources import am_alert, am_payload, wait_processed

from activities import correlation as correlation_activity
from activities import detection as detection_activity
from incidentflow.client import IncidentClient
from incidentflow.models import AlertBatch, CorrelationInput, ServiceGraph
from incidentflow.models.alerts import MAX_ANNOTATION_VALUE

ROOT = Path(__file__).resolve().parents[2]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)


def good(n: int) -> dict[str, Any]:
    return am_alert(f"Good{n}", "payments", "firing", START, f"good-{n}")


async def post(stack: Stack, *alerts: dict[str, Any]) -> int:
    resp = await stack.post_alertmanager(am_payload(*alerts))
    return resp.status_code


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        # Issue 14's alert: year 1 with an offset has no UTC time; correlation's window
        # arithmetic failed on it for good.
        # (the edge refuses these first: they have no UTC time at all)
        ("startsAt", "0001-01-01T00:00:00+00:01", "outside the years 1-9999 in UTC"),
        ("startsAt", "9999-12-31T23:59:59-00:01", "outside the years 1-9999 in UTC"),
        ("endsAt", "0100-01-01T00:00:00Z", "outside 1970..2200"),
    ],
)
async def test_out_of_range_times_are_refused_naming_the_field(
    stack: Stack, field: str, value: str, problem: str
) -> None:
    bad = good(0) | {field: value}
    if field == "endsAt":
        bad["status"] = "resolved"
    resp = await stack.post_alertmanager(am_payload(bad))
    assert resp.status_code == 422, resp.text
    fields = resp.json()["fields"]
    # The wire model names the field as sent (startsAt), the normalized model as stored.
    wanted = {field, {"startsAt": "starts_at", "endsAt": "ends_at"}[field]}
    assert any(any(w in f["field"] for w in wanted) and problem in f["problem"] for f in fields), (
        fields
    )
    assert await post(stack, good(1)) == 202
    stats = await wait_processed(stack.client, stack.settings.environment, 1)
    assert stats.alerts_received == stats.alerts_processed == 1


async def test_oversized_strings_are_refused_naming_the_field(stack: Stack) -> None:
    huge = good(0) | {"annotations": {"description": "x" * (MAX_ANNOTATION_VALUE + 1)}}
    resp = await stack.post_alertmanager(am_payload(huge))
    assert resp.status_code == 422, resp.text
    assert any("annotations" in f["field"] for f in resp.json()["fields"])
    assert await post(stack, good(1)) == 202
    await wait_processed(stack.client, stack.settings.environment, 1)


async def test_naive_and_offset_times_in_one_round_are_processed(stack: Stack) -> None:
    # A time without a zone next to one with an offset: comparing them used to raise.
    naive = good(0) | {"startsAt": START.replace(tzinfo=None).isoformat()}
    offset = good(1) | {"startsAt": START.astimezone(UTC).isoformat().replace("+00:00", "+05:30")}
    assert await post(stack, naive, offset, good(2)) == 202
    stats = await wait_processed(stack.client, stack.settings.environment, 3)
    assert stats.alerts_processed == 3 and stats.alerts_quarantined == 0


@pytest.mark.parametrize("stage", ["detect", "correlate"])
async def test_an_agent_that_cannot_process_an_alert_quarantines_it(
    stack: Stack, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_detect, real_correlate = detection_activity.detect, correlation_activity.correlate

    def detect(batch: AlertBatch, *args: Any) -> Any:
        if any(a.name == "Poison" for a in batch.alerts):
            raise ValueError("date value out of range")
        return real_detect(batch, *args)

    def correlate(inp: CorrelationInput, graph: ServiceGraph, *args: Any) -> Any:
        if any(d.alert.name == "Poison" for d in inp.detections):
            raise OverflowError("date value out of range")
        return real_correlate(inp, graph, *args)

    if stage == "detect":
        monkeypatch.setattr(detection_activity, "detect", detect)
    else:
        monkeypatch.setattr(correlation_activity, "correlate", correlate)
    poison = am_alert("Poison", "payments", "firing", START, "poison-1")
    # One delivery: the poison among good alerts; then a good alert on its own.
    assert await post(stack, good(1), poison, good(2), good(3)) == 202
    assert await post(stack, good(4)) == 202
    env = stack.settings.environment
    stats = await wait_processed(stack.client, env, 5)
    assert stats.alerts_received == stats.alerts_processed == 5
    assert stats.alerts_quarantined == 1
    _, held, _ = await IncidentClient(stack.client).stream_record(env)
    assert [[a.fingerprint for a in q.alerts] for q in held] == [["poison-1"]]
    assert held[0].stage == stage and "date value out of range" in held[0].error
    (incident,) = await IncidentClient(stack.client).open_incidents(env)
    assert set(incident.fingerprints) == {f"good-{n}" for n in range(1, 5)}
    # What a person runs to see it.
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        "quarantine",
        "--partition",
        env,
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "INCIDENTFLOW_TEMPORAL_ADDRESS": stack.settings.temporal.temporal_address,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 60)
    stdout = out.decode()
    assert cli.returncode == 0, err.decode()
    assert "quarantined 1 alert(s)" in stdout and "poison-1" in stdout, stdout
    assert f"{stage} failed" in stdout
