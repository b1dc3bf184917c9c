"""Run scenario bundles through the real pipeline and collect what it concluded.

For each bundle: in-process workers whose evidence source is the bundle, the real webhook app
(through httpx's ASGI transport) receiving the bundle's deliveries in order, moved to now;
then the stream's verdict and each incident's record, read back from Temporal. Every bundle
gets its own task queues and stream partition, so cases never see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from incidentflow.cli import ops
from incidentflow.cli.demo import rebase_payloads
from incidentflow.errors import BadInput, IncidentFlowError
from incidentflow.eval.engines import engine_report
from incidentflow.eval.score import CaseScore, Observed, score_case
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import IncidentRecord
from incidentflow.scenario import Scenario, load_scenario
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow

# How long the stream may take to settle after the last delivery, and each plan after that.
SETTLE_TIMEOUT_S = 60.0
PLAN_TIMEOUT_S = 60.0
POLL_S = 0.2
# The stream is settled when nothing is pending and its history stopped growing this long.
QUIET_S = 1.0


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


def case_settings(base: Settings, bundle: Path, data_dir: Path) -> Settings:
    """The base settings isolated to one bundle: own queues, partition and evidence."""
    tag = uuid.uuid4().hex[:8]
    return base.model_copy(
        update={
            "task_queue_prefix": f"eval-{tag}-",
            "environment": f"eval-{tag}",
            "evidence_bundle": bundle,
            "catalog_path": None,
            "data_dir": data_dir / tag,
        }
    )


async def _settled(client: Client, partition: str) -> None:
    handle = client.get_workflow_handle_for(AlertStreamWorkflow.run, stream_workflow_id(partition))
    last, quiet_since = -1, time.monotonic()
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        while True:
            try:
                pending = await handle.query(AlertStreamWorkflow.pending_batches)
                desc = await handle.describe()
            except RPCError:
                await asyncio.sleep(POLL_S)
                continue
            # Incident children stay open awaiting approval: only activities mean "busy".
            busy = pending or desc.raw_description.pending_activities
            length = desc.history_length
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


def _observed(record: IncidentRecord, fingerprints: list[str], seconds: float) -> Observed:
    inv = record.investigation
    hyps = [(h.service, h.fault_type.value) for h in inv.hypotheses] if inv else []
    action = None
    if record.plan is not None and record.plan.action is not None:
        params = record.plan.action.params.model_dump(mode="json")
        action = {k: str(v) for k, v in params.items()}
    return Observed(
        id=record.incident.id,
        fingerprints=fingerprints,
        hypotheses=hyps,
        action=action,
        seconds_to_proposal=round(seconds, 2) if record.plan is not None else None,
    )


async def run_case(client: Client, settings: Settings, scenario: Scenario) -> CaseScore:
    """One bundle through workers, webhook, stream and incidents; scored."""
    from worker import run_workers  # the worker module sits at the project root

    stop = asyncio.Event()
    worker = asyncio.create_task(run_workers(settings, "default", stop=stop))
    app = create_app(settings, TemporalSink(client, settings))
    try:
        payloads = rebase_payloads(scenario.alert_payloads, datetime.now(UTC))
        started = time.monotonic()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as http:
            for payload in payloads:
                resp = await http.post(f"/v1/alerts/{scenario.alert_source}", json=payload)
                if resp.status_code >= 400:
                    raise BadInput(f"the webhook answered {resp.status_code}: {resp.text[:200]}")
        await _settled(client, settings.environment)
        observed: list[Observed] = []
        records: list[IncidentRecord] = []
        for inc in await ops.open_incidents(client, settings.environment):
            record = await _record_with_plan(client, inc.id)
            records.append(record)
            observed.append(_observed(record, list(inc.fingerprints), time.monotonic() - started))
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
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await worker


async def run_eval(
    bundles: list[Path],
    base: Settings,
    *,
    parallel: int = 2,
    say: Callable[[str], None] = lambda _: None,
) -> list[CaseScore]:
    """Every bundle through the pipeline on a private dev server; cases in the given order."""
    scenarios = [load_scenario(p) for p in bundles]
    with (
        tempfile.TemporaryDirectory(prefix="incidentflow-eval-") as tmp,
        private_server(Path(tmp)) as server,
    ):
        base = base.model_copy(update={"temporal_address": server.address})
        client = await connect(base)
        gate = asyncio.Semaphore(max(1, parallel))

        async def one(path: Path, scenario: Scenario) -> CaseScore:
            async with gate:
                say(f"running {scenario.name}")
                try:
                    return await run_case(client, case_settings(base, path, Path(tmp)), scenario)
                except TimeoutError:
                    case = score_case(scenario, [])
                    return case.model_copy(
                        update={"error": "timed out waiting for the stream or a plan"}
                    )
                except (IncidentFlowError, RPCError) as err:
                    case = score_case(scenario, [])
                    return case.model_copy(update={"error": f"{type(err).__name__}: {err}"})

        return list(
            await asyncio.gather(*(one(p, s) for p, s in zip(bundles, scenarios, strict=True)))
        )
