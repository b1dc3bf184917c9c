"""A worker gives a storm's memory back by re-executing itself when idle (incidentflow/runtime.py).

Real worker processes against the real dev server, with a ceiling of 1 MiB so that any work
puts them above it, and a quiet period of a second or two.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flow import wait_for_state
from temporalio.client import Client
from test_durability import Procs, attempts_of, post_demo, worker_env

from incidentflow.models import IncidentState
from incidentflow.settings import Settings
from incidentflow.temporal import free_port

pytestmark = pytest.mark.slow

TINY = {"INCIDENTFLOW_WORKER_RECYCLE_ABOVE_MIB": "1"}
RECYCLED = re.compile(r"recycling \(pid (\d+) stays\): RSS (\d+) MiB is above")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path / "logs")
    yield p
    for proc in p.started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def text_of(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


async def wait_for_line(log: Path, text: str, *, count: int = 1, timeout: float = 60) -> str:
    """The log once it holds `text` `count` times."""
    async with asyncio.timeout(timeout):
        while True:
            content = text_of(log)
            if content.count(text) >= count:
                return content
            await asyncio.sleep(0.2)


async def test_idle_worker_above_its_ceiling_reexecutes_and_keeps_serving(
    settings: Settings, client: Client, workers: Procs
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    env = worker_env(
        settings,
        **TINY,
        INCIDENTFLOW_WORKER_RECYCLE_QUIET_SECONDS="2",
        INCIDENTFLOW_METRICS_BIND=metrics,
    )
    proc = workers.start("default", env, "worker")
    log = workers.log_dir / "worker.log"
    # Fresh and idle: it measures its rest and, having done nothing, does not recycle.
    await wait_for_line(log, "resting RSS")
    await asyncio.sleep(3)
    assert "recycling (pid" not in text_of(log)

    first = await post_demo(settings, client)
    await wait_for_state(client, first, {IncidentState.AWAITING_APPROVAL}, timeout=90)
    async with httpx.AsyncClient() as http:  # a scrape: a connection the exec must not keep
        assert (await http.get(f"http://{metrics}/metrics")).status_code == 200
    content = await wait_for_line(log, "re-executing with RSS")
    [(pid, _rss)] = RECYCLED.findall(content)
    assert int(pid) == proc.pid and proc.poll() is None
    # The same process serves again, and processes a new alert end to end.
    await wait_for_line(log, f"(pid {proc.pid})", count=2)
    other = settings.replace({"environment": "after-recycle"})
    second = await post_demo(other, client)
    assert second != first
    await wait_for_state(client, second, {IncidentState.AWAITING_APPROVAL}, timeout=90)
    assert proc.poll() is None
    # The new image serves metrics on the same address again.
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://{metrics}/metrics")).status_code == 200


async def test_worker_with_an_activity_in_flight_recycles_only_once_idle(
    settings: Settings, client: Client, workers: Procs
) -> None:
    env = worker_env(settings, **TINY, INCIDENTFLOW_WORKER_RECYCLE_QUIET_SECONDS="1")
    proc = workers.start("default", env, "slow-worker", "--investigation-delay=8")
    log = workers.log_dir / "slow-worker.log"
    await wait_for_line(log, "resting RSS")
    incident = await post_demo(settings, client)
    await wait_for_state(client, incident, {IncidentState.INVESTIGATING})
    # Eight seconds of investigation, heartbeating: quiet for Temporal, busy for the worker.
    for _ in range(12):
        await asyncio.sleep(0.5)
        assert "recycling (pid" not in text_of(log), "recycled with an activity in flight"
    await wait_for_state(client, incident, {IncidentState.AWAITING_APPROVAL}, timeout=60)
    content = await wait_for_line(log, "re-executing with RSS")
    [(pid, _rss)] = RECYCLED.findall(content)
    assert int(pid) == proc.pid
    # The investigation ran once: nothing was cut short by the recycle.
    assert await attempts_of(client, incident, "investigate") == 1
