"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) and a real HTTP ingest.

Shared by tests/integration/test_alertmanager.py and bench/ingest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import uvicorn
import yaml

from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.settings import Settings
from incidentflow.temporal import connect, free_port, port_open

BINARY = "prometheus-alertmanager"


def alertmanager_binary() -> str:
    """The binary's path; a clear failure (not a skip) when the package is missing."""
    found = shutil.which(BINARY)
    if found is None:
        raise RuntimeError(
            f"{BINARY} is not installed: run scripts/system-deps (Debian package "
            "prometheus-alertmanager, listed in scripts/apt-packages.txt)"
        )
    return found


@contextlib.contextmanager
def alertmanager(
    workdir: Path, *, webhook_url: str | None, token: str | None = None
) -> Iterator[str]:
    """Alertmanager on loopback with short group timers; yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    webhook: dict[str, object] = {"url": webhook_url or "http://127.0.0.1:9/none"}
    webhook["send_resolved"] = True
    if token:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    config = {
        "route": {
            "receiver": "incidentflow",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "incidentflow", "webhook_configs": [webhook]}],
    }
    (workdir / "am.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            alertmanager_binary(),
            f"--config.file={workdir / 'am.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=(workdir / "am.log").open("ab"),
        stderr=subprocess.STDOUT,
        # Its own session, as a service runs (and so its own scheduling group where the kernel
        # groups by session): the benchmark's client does not share its CPU share.
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "am.log").read_text()[-2000:]
                raise RuntimeError(f"Alertmanager did not start: {log}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.asynccontextmanager
async def http_ingest(settings: Settings) -> AsyncIterator[str]:
    """The real webhook app under uvicorn on a loopback port; yields its base URL."""
    client = await connect(settings)
    app = create_app(settings, TemporalSink(client, settings))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 10 s
            if server.started:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def post_to_alertmanager(
    http: httpx.AsyncClient, base: str, alerts: list[dict[str, object]]
) -> None:
    """POST alerts to Alertmanager's own API, as Prometheus does."""
    resp = await http.post(f"{base}/api/v2/alerts", json=alerts)
    resp.raise_for_status()
