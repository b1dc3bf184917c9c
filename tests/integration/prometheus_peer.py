"""The real Prometheus (Debian's `prometheus` package) on loopback, as test_prometheus.py starts
it: scraping the given targets every second; queried through its HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from incidentflow.temporal import free_port, port_open


@contextlib.contextmanager
def running_prometheus(folder: Path, jobs: dict[str, list[str]]) -> Iterator[str]:
    """Prometheus scraping `jobs` (job name -> host:port targets) every second; its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "the `prometheus` binary is missing: install the Debian package `prometheus` "
            "(scripts/system-deps does it)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    scrape = [
        {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
    ]
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": scrape,
            }
        )
    )
    port = free_port()
    log = folder / "prometheus.log"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start: {log.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector `promql` evaluates to now (Prometheus's /api/v1/query)."""
    async with httpx.AsyncClient(timeout=5) as http:
        resp = await http.get(f"{prometheus}/api/v1/query", params={"query": promql})
    body = resp.json()
    if body.get("status") != "success":
        raise AssertionError(f"Prometheus refused {promql!r}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def scalar(prometheus: str, promql: str) -> float | None:
    """The single value `promql` gives, or None while it has no series."""
    result = await query(prometheus, promql)
    if not result:
        return None
    if len(result) > 1:
        raise AssertionError(f"{promql!r} gave {len(result)} series, expected one: {result}")
    return float(result[0]["value"][1])


async def eventually(
    prometheus: str, promql: str, ok: Callable[[float | None], bool], timeout: float = 30
) -> float | None:
    """Poll `promql` until `ok(value)`; fail with the last value seen (scrapes are 1 s apart)."""
    value: float | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = await scalar(prometheus, promql)
                if ok(value):
                    return value
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"{promql} stayed at {value}") from None
