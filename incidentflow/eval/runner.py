"""Run scenario bundles through the real pipeline and collect what it concluded.

For each bundle: in-process workers whose evidence source is the bundle (configured
explicitly per case, never a demo fallback), the real webhook app (through httpx's ASGI
transport) receiving the bundle's deliveries in recorded time; then each incident's record,
read back from Temporal. Every bundle gets its own task queues and stream partition, so cases
never see each other, and bundles are loaded one at a time, so memory does not grow with
their number.

Replay: deliveries that share a recorded time form one tick. Ticks are posted at their
recorded offsets divided by `speed`, and never before the pipeline has finished the previous
tick (stream idle, no activity pending in the stream or any incident): a slow machine delays
the replay but cannot change what each round holds, so a bundle gives the same incidents and
the same ranked answers every run. Alert timestamps keep their recorded spacing, moved as a
whole so the first delivery is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from incidentflow.cli import ops
from incidentflow.errors import BadInput, IncidentFlowError, TemporalUnavailable
from incidentflow.eval.engines import engine_report
from incidentflow.eval.score import CaseScore, Observed, observe, score_case
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import IncidentRecord, TimelineKind
from incidentflow.scenario import Scenario, load_scenario, shift_payload
from incidentflow.settings import Settings
from incidentflow.sources.files import parse_time
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow

# How long the pipeline may take to go quiet after a tick, and each plan after the last one.
SETTLE_TIMEOUT_S = 120.0
PLAN_TIMEOUT_S = 60.0
POLL_S = 0.2
# The pipeline is quiet when nothing is pending and no history grew for this long.
QUIET_S = 1.0
# Recorded seconds per replayed second. At 30 the data sets' one-minute sample spacing becomes
# 2 s, longer than one round takes here, so each sample's deliveries form their own round as
# they would live; correlation's grouping window compares recorded alert times, so it is
# unchanged. Only the stream's wall-clock windows (flap detection, the quiet hold: 10 min
# each) stretch, to 300 recorded minutes: wider than any bundle.
DEFAULT_SPEED = 30.0
# A tick's deliveries are posted back to back; this settle window merges them into one round
# (Alertmanager groups alerts of one instant into one notification the same way).
MIN_SETTLE_S = 0.5
# How long a dev server just started may take to answer (seen: several seconds under load).
CONNECT_S = 60.0
# A case's worker process gets this long to drain after SIGTERM before it is killed.
WORKER_STOP_S = 20.0


@contextlib.contextmanager
def private_server(root: Path) -> Iterator[DevServer]:
    """A dev server of our own on free ports, stopped afterwards."""
    server = DevServer(
        db_file=root / "temporal.sqlite",
        port=free_port(),
        ui_port=free_port(),
        log_file=root / "temporal-server.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
        "settle_seconds": max(base.settle_seconds / speed, MIN_SETTLE_S),
        "prometheus_url": None,
        "loki_url": None,
        "changelog_file": None,
        "changelog_url": None,
        "runbooks_dir": None,
        "kubectl_changes": False,
        "metrics_bind": None,
    }


def case_settings(
    base: Settings, bundle: Path, data_dir: Path, *, speed: float = DEFAULT_SPEED
) -> Settings:
    """The base settings isolated to one bundle (see `case_overrides`)."""
    return base.model_copy(update=case_overrides(base, bundle, data_dir, speed=speed))


def worker_env(settings: Settings, overrides: dict[str, Any]) -> dict[str, str]:
    """The environment of a case's worker process: this one's, with the case's settings."""
    env = dict(os.environ)
    values = {**overrides, "temporal_address": settings.temporal_address}
    values["llm_agents"] = settings.llm_agents
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


@dataclass(frozen=True)
class Tick:
    """Deliveries that share a recorded time, posted together."""

    offset_s: float
    payloads: list[dict[str, Any]]


def delivery_time(payload: dict[str, Any]) -> datetime | None:
    """When a delivery was sent: its alerts' latest status time (start, or end once resolved)."""
    times: list[datetime] = []
    for alert in payload.get("alerts", []):
        key = "endsAt" if alert.get("status") == "resolved" else "startsAt"
        value = alert.get(key) or alert.get("startsAt")
        if isinstance(value, str) and value and not value.startswith("0001-"):
            times.append(parse_time(value))
    return max(times) if times else None


def replay_ticks(payloads: list[dict[str, Any]]) -> list[Tick]:
    """The deliveries in file order, grouped by recorded time; offsets from the first.

    A delivery is never earlier than the one filed before it (file names order deliveries).
    """
    ticks: list[Tick] = []
    first: datetime | None = None
    last: datetime | None = None
    for payload in payloads:
        at = delivery_time(payload) or last
        if at is not None and last is not None and at < last:
            at = last
        if first is None:
            first = at
        if at is None or first is None:
            at = first = last = datetime.now(UTC)  # no time at all: all go at once
        offset = (at - first).total_seconds()
        if ticks and ticks[-1].offset_s == offset:
            ticks[-1].payloads.append(payload)
        else:
            ticks.append(Tick(offset, [payload]))
        last = at
    return ticks


async def _quiet(client: Client, partition: str, incidents: list[str]) -> None:
    """Wait until the stream and every incident are idle and no history grew for QUIET_S."""
    stream = client.get_workflow_handle_for(AlertStreamWorkflow.run, stream_workflow_id(partition))
    last, quiet_since = -1, time.monotonic()
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        while True:
            try:
                pending = await stream.query(AlertStreamWorkflow.pending_batches)
                descs = [await stream.describe()] + [
                    await client.get_workflow_handle(i).describe() for i in incidents
                ]
            except RPCError:
                await asyncio.sleep(POLL_S)
                continue
            # Incidents stay open awaiting approval: only pending activities mean "busy".
            busy = pending or any(d.raw_description.pending_activities for d in descs)
            length = sum(d.history_length or 0 for d in descs)
            if busy or length != last:
                last, quiet_since = length, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                return
            await asyncio.sleep(POLL_S)


async def _record_with_plan(client: Client, incident_id: str) -> IncidentRecord:
    async with asyncio.timeout(PLAN_TIMEOUT_S):
        while True:
            record = await ops.get_record(client, incident_id)
            if (
                record.plan is not None
                or record.state.terminal
                or (record.state.value == "needs_attention")
            ):
                return record
            await asyncio.sleep(POLL_S)


def _seconds_to_plan(record: IncidentRecord, opened: datetime) -> float | None:
    plans = [e.at for e in record.timeline if e.kind is TimelineKind.PLAN]
    return max(0.0, (min(plans) - opened).total_seconds()) if plans else None


async def run_case(
    client: Client,
    settings: Settings,
    scenario: Scenario,
    *,
    speed: float = DEFAULT_SPEED,
    overrides: dict[str, Any] | None = None,
) -> CaseScore:
    """One bundle through workers, webhook, stream and incidents in recorded time; scored.

    With `overrides` (what `case_overrides` gave for `settings`) the workers run in a process
    of their own; without, in this one.
    """
    from worker import run_workers  # the worker module sits at the project root

    stop = asyncio.Event()
    if overrides is not None:
        async with case_worker(settings, overrides):
            return await _replay(client, settings, scenario, speed=speed)
    worker = asyncio.create_task(run_workers(settings, "default", stop=stop))
    try:
        return await _replay(client, settings, scenario, speed=speed)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await worker


async def _replay(
    client: Client, settings: Settings, scenario: Scenario, *, speed: float
) -> CaseScore:
    app = create_app(settings, TemporalSink(client, settings))
    env = settings.environment
    ticks = replay_ticks(scenario.alert_payloads)
    first = next((delivery_time(p) for p in scenario.alert_payloads), None)
    delta = datetime.now(UTC) - first if first is not None else timedelta(0)
    seen: dict[str, datetime] = {}
    began = time.monotonic()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as http:
        for tick in ticks:
            await asyncio.sleep(max(0.0, began + tick.offset_s / speed - time.monotonic()))
            posted = datetime.now(UTC)
            for payload in tick.payloads:
                body = shift_payload(payload, delta)
                resp = await http.post(f"/v1/alerts/{scenario.alert_source}", json=body)
                if resp.status_code >= 400:
                    raise BadInput(f"the webhook answered {resp.status_code}: {resp.text[:200]}")
            await _quiet(client, env, list(seen))
            for inc in await ops.open_incidents(client, env):
                seen.setdefault(inc.id, posted)
            await _quiet(client, env, list(seen))
    observed: list[Observed] = []
    records: list[IncidentRecord] = []
    for inc_id, opened in seen.items():
        record = await _record_with_plan(client, inc_id)
        records.append(record)
        observed.append(
            observe(
                record.incident,
                record.investigation,
                record.plan,
                seconds_to_proposal=_seconds_to_plan(record, opened),
            )
        )
    engines = engine_report(records)
    return score_case(scenario, observed).model_copy(
        update={
            "engines": engines.answers,
            "fallbacks": engines.fallbacks,
            "llm_calls": engines.llm_calls,
            "llm_tokens": engines.llm_tokens,
            "llm_ms": engines.llm_ms,
        }
    )


async def _connect_new(settings: Settings) -> Client:
    """A client of the server just started: its port opens before its frontend is healthy,
    which on a loaded machine takes seconds."""
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            return await connect(settings)
        except TemporalUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Progress:
    """Where a run stands: cases done of all, the case starting, seconds left (estimated)."""

    done: int
    total: int
    current: str
    eta_s: float | None


async def run_eval(
    bundles: list[Path],
    base: Settings,
    *,
    parallel: int = 2,
    speed: float = DEFAULT_SPEED,
    progress: Callable[[Progress], None] = lambda _: None,
) -> list[CaseScore]:
    """Every bundle through the pipeline on a private dev server; cases in the given order.

    Each bundle is read when its turn comes and dropped once scored, so at most `parallel`
    bundles are in memory at once.
    """
    if speed <= 0:
        raise BadInput(f"--speed must be above 0, not {speed}")
    with (
        tempfile.TemporaryDirectory(prefix="incidentflow-eval-") as tmp,
        private_server(Path(tmp)) as server,
    ):
        base = base.model_copy(update={"temporal_address": server.address})
        client = await _connect_new(base)
        results: list[CaseScore | None] = [None] * len(bundles)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(len(bundles)):
            queue.put_nowait(n)
        started = time.monotonic()
        done = 0

        async def one(path: Path) -> CaseScore:
            scenario = load_scenario(path)
            overrides = case_overrides(base, path, Path(tmp), speed=speed)
            settings = base.model_copy(update=overrides)
            t0 = time.monotonic()
            try:
                case = await run_case(client, settings, scenario, speed=speed, overrides=overrides)
            except TimeoutError:
                case = score_case(scenario, []).model_copy(
                    update={"error": "timed out waiting for the pipeline or a plan"}
                )
            except (IncidentFlowError, RPCError) as err:
                case = score_case(scenario, []).model_copy(
                    update={"error": f"{type(err).__name__}: {err}"}
                )
            return case.model_copy(update={"seconds": round(time.monotonic() - t0, 2)})

        async def lane() -> None:
            nonlocal done
            while not queue.empty():
                n = queue.get_nowait()
                elapsed = time.monotonic() - started
                eta = elapsed / done * (len(bundles) - done) if done else None
                progress(Progress(done, len(bundles), bundles[n].name, eta))
                results[n] = await one(bundles[n])
                done += 1
                if done == len(bundles):
                    progress(Progress(done, len(bundles), "", 0.0))

        await asyncio.gather(*(lane() for _ in range(max(1, min(parallel, len(bundles))))))
        return [r for r in results if r is not None]
