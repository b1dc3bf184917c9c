"""Helpers for the remediation and takeover tests: fire the demo, resolve it, wait."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from test_durability import Procs

from incidentflow.models import IncidentRecord, IncidentState

WAITING = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}


async def fire(stack: Stack) -> tuple[str, list[dict[str, Any]]]:
    """Post the demo through the webhook; the incident id and the payloads sent."""
    payloads = demo_payloads()
    for payload in payloads:
        resp = await stack.post_alertmanager(payload)
        assert resp.status_code == 202, resp.text
    incident_id = await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )
    return incident_id, payloads


async def resolve_alerts(stack: Stack, payloads: list[dict[str, Any]]) -> None:
    """Alertmanager reports every demo alert resolved (what a working fix looks like)."""
    now = datetime.now(UTC).isoformat()
    for payload in payloads:
        done = copy.deepcopy(payload)
        done["status"] = "resolved"
        for alert in done["alerts"]:
            alert["status"] = "resolved"
            alert["endsAt"] = now
        resp = await stack.post_alertmanager(done)
        assert resp.status_code == 202, resp.text


async def awaiting(stack: Stack, incident_id: str, timeout: float = 60) -> IncidentRecord:
    record = await wait_for_state(stack.client, incident_id, WAITING, timeout=timeout)
    assert record.state is IncidentState.AWAITING_APPROVAL, record.timeline
    return record


async def until(ready: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    """Poll `ready` until it says yes (a timeout fails the test)."""
    async with asyncio.timeout(timeout):
        while True:
            if await ready():
                return
            await asyncio.sleep(0.2)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Procs]:
    """Worker processes for one test, killed when it ends."""
    p = Procs(tmp_path / "logs")
    yield p
    for proc in p.started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
