"""One eval case, isolated: its settings, and its workers in a process of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from incidentflow.eval.replay import DEFAULT_SPEED
from incidentflow.settings import Settings

# A tick's deliveries are posted back to back; this settle window merges them into one round
# (Alertmanager groups alerts of one instant into one notification the same way).
MIN_SETTLE_S = 0.5
# A case's worker process gets this long to drain after SIGTERM before it is killed.
WORKER_STOP_S = 20.0


def case_overrides(
    base: Settings, bundle: Path, data_dir: Path, *, speed: float = DEFAULT_SPEED
) -> dict[str, Any]:
    """What one case changes in the base settings: own queues, partition and evidence.

    The bundle is the only evidence source and its topology the graph: live sources the
    base settings name are switched off, so a case never depends on what this host reaches.
    """
    tag = uuid.uuid4().hex[:8]
    return {
        "task_queue_prefix": f"eval-{tag}-",
        "environment": f"eval-{tag}",
        "evidence_bundle": bundle.resolve(),
        "catalog_path": None,
        "data_dir": (data_dir / tag).resolve(),
        "settle_seconds": max(base.ingest.settle_seconds / speed, MIN_SETTLE_S),
        "prometheus_url": None,
        "loki_url": None,
        "changelog_file": None,
        "changelog_url": None,
        "runbooks_dir": None,
        "kubectl_changes": False,
        "kubectl_capacity": False,
        "metrics_bind": None,
    }


def case_settings(
    base: Settings, bundle: Path, data_dir: Path, *, speed: float = DEFAULT_SPEED
) -> Settings:
    """The base settings isolated to one bundle (see `case_overrides`)."""
    return base.replace(case_overrides(base, bundle, data_dir, speed=speed))


def worker_env(settings: Settings, overrides: dict[str, Any]) -> dict[str, str]:
    """The environment of a case's worker process: this one's, with the case's settings."""
    env = dict(os.environ)
    values = {**overrides, "temporal_address": settings.temporal.temporal_address}
    values["llm_agents"] = settings.llm.llm_agents
    for key, value in values.items():
        name = f"INCIDENTFLOW_{key.upper()}"
        if value is None:
            env.pop(name, None)
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        else:
            env[name] = str(value)
    return env


@contextlib.asynccontextmanager
async def case_worker(settings: Settings, overrides: dict[str, Any]) -> AsyncIterator[None]:
    """The case's workers in a process of their own, stopped (and waited for) afterwards.

    A process per case keeps the eval's memory flat: a bundle's telemetry, and what the
    SDK and the allocator keep after a worker stops, go away with the process.
    """
    from incidentflow.cli.stack import repo_root

    log_dir = settings.data_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "worker.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker",
            "--queue",
            "default",
            cwd=repo_root(),
            env=worker_env(settings, overrides),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), WORKER_STOP_S)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
