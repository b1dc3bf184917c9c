"""Run scenario bundles through the real pipeline and collect what it concluded.

For each bundle: a worker process whose only evidence source is the bundle (configured
explicitly per case, never a demo fallback; `isolation`), the real webhook app (through
httpx's ASGI transport) receiving the bundle's deliveries in recorded time (`replay`); then
each incident's record, read back from Temporal. Every bundle gets its own task queues and
stream partition, so cases never see each other, and bundles are loaded one at a time, so
memory does not grow with their number.

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
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from incidentflow.client import IncidentClient
from incidentflow.errors import BadInput, IncidentFlowError, TemporalUnavailable
from incidentflow.eval.engines import engine_report
from incidentflow.eval.isolation import case_overrides, case_worker
from incidentflow.eval.replay import DEFAULT_SPEED, delivery_time, replay_ticks
from incidentflow.eval.score import CaseScore, Observed, observe, score_case
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import IncidentRecord, TimelineKind
from incidentflow.scenario import Scenario, load_scenario, shift_payload
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow

# How long the pipeline may take to go quiet after a tick, and each plan after the last one.
SETTLE_TIMEOUT_S = 120.0
PLAN_TIMEOUT_S = 60.0
POLL_S = 0.2
# The pipeline is quiet when nothing is pending and no history grew for this long.
QUIET_S = 1.0
# How long a dev server just started may take to answer (seen: several seconds under load).
CONNECT_S = 60.0


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
            record = await IncidentClient(client).record(incident_id)
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
            for inc in await IncidentClient(client).open_incidents(env):
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
        base = base.replace({"temporal_address": server.address})
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
            settings = base.replace(overrides)
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
