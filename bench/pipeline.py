"""Benchmark: alert accepted -> plan awaiting approval, against bare-workflow baselines.

    python bench/pipeline.py [--incidents 20] [--explain]

Everything runs against one embedded dev server started by this script, interleaved so every
figure sees the same server state. Times come from the server's own history timestamps:

- pipeline: from the signal that recorded the batch carrying the incident's first alert, to
  the workflow task that completed right after `plan_remediation` (the incident then awaits
  approval). It covers detection, correlation, starting the incident workflow, investigation
  and planning.
- traced: the same pipeline with OpenTelemetry tracing on (spans recorded and exported in
  batches to an exporter that counts them), interleaved with untraced rounds.
- bare: a workflow started by signal-with-start that runs 4 no-op activities, from its signal
  to the workflow task after the last one; once with the activities on the workflow's own
  task queue, once on a separate queue (IncidentFlow's agents run on their own queue).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(HERE.parent), str(TESTS), str(TESTS / "integration")]

from bare import NOOP_ACTIVITIES, BareWorkflow, noop
from conftest import Stack, app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_state
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from incidentflow.client import IncidentClient
from incidentflow.codec import DATA_CONVERTER
from incidentflow.models import AlertBatch, IncidentState
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id


class SwitchedTracing(Sampler):
    """Tracing on or off within one process: a sampler that records only while `on`, over a
    provider whose batch processor hands spans to an exporter that counts and drops them."""

    def __init__(self) -> None:
        self.on = False
        self.exported = 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (ALWAYS_ON if self.on else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "switched"

    def install(self) -> None:
        outer = self

        class Counting(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                outer.exported += len(spans)
                return SpanExportResult.SUCCESS

        provider = TracerProvider(sampler=self)
        provider.add_span_processor(BatchSpanProcessor(Counting()))
        trace.set_tracer_provider(provider)


TRACING = SwitchedTracing()


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime()


async def signal_carrying(history: WorkflowHistory, fingerprints: set[str]) -> datetime:
    """When the server recorded the first batch that carried one of `fingerprints`."""
    for e in history.events:
        if e.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        payloads = e.workflow_execution_signaled_event_attributes.input.payloads
        [batch] = await DATA_CONVERTER.decode(payloads, [AlertBatch])
        if fingerprints & {a.fingerprint for a in batch.alerts}:
            return _time(e)
    raise RuntimeError(f"{history.workflow_id}: no signal carries the incident's alerts")


def first_signal(history: WorkflowHistory) -> datetime:
    """When the server recorded the workflow's first signal."""
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            return _time(e)
    raise RuntimeError(f"{history.workflow_id}: no signal in history")


def task_after_activity(history: WorkflowHistory, activity: str, nth: int = 1) -> datetime:
    """When the workflow task following the nth completion of `activity` completed."""
    scheduled = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    }
    seen = 0
    armed = False
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            if e.activity_task_completed_event_attributes.scheduled_event_id in scheduled:
                seen += 1
                armed = seen == nth
        elif armed and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return _time(e)
    raise RuntimeError(f"{history.workflow_id}: no completed {activity}")


async def wait_for_incident(client: Client, partition: str, fingerprints: set[str]) -> str:
    """The id of the incident that took one of `fingerprints`, polled at 20 Hz."""
    async with asyncio.timeout(60):
        while True:
            for inc in await IncidentClient(client).open_incidents(partition):
                if fingerprints & set(inc.fingerprints):
                    return inc.id
            await asyncio.sleep(0.05)


def explain(*histories: WorkflowHistory) -> None:
    """Print the merged event timeline of the histories, in ms since the first event."""
    events = sorted(
        (_time(e), h.workflow_id, EventType.Name(e.event_type)) for h in histories for e in h.events
    )
    t0 = events[0][0]
    for at, wid, name in events:
        ms = (at - t0).total_seconds() * 1000
        print(f"    {ms:7.1f} ms  {wid[:26]:<26} {name.removeprefix('EVENT_TYPE_')}")


async def pipeline_once(stack: Stack, client: Client, show: bool) -> float:
    """Fire the demo into a fresh partition; seconds from accepted to awaiting approval."""
    env = f"bench-{uuid.uuid4().hex[:8]}"
    payloads: list[dict[str, Any]] = demo_payloads()
    for p in payloads:
        for a in p["alerts"]:
            a["labels"]["environment"] = env
    for p in payloads:
        resp = await stack.post_alertmanager(p)
        if resp.status_code != 202:
            raise RuntimeError(resp.text)
    origin = fingerprints_of(payloads, DEMO_ORIGIN)
    incident_id = await wait_for_incident(client, env, origin)
    await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
    stream = await client.get_workflow_handle(stream_workflow_id(env)).fetch_history()
    incident = await client.get_workflow_handle(incident_id).fetch_history()
    await client.get_workflow_handle(incident_id).terminate("benchmark done")
    if show:
        explain(stream, incident)
    start = await signal_carrying(stream, origin)
    return (task_after_activity(incident, "plan_remediation") - start).total_seconds()


async def bare_once(client: Client, queue: str, activity_queue: str, show: bool) -> float:
    """One bare workflow; seconds from its signal to the task after its last activity."""
    handle = await client.start_workflow(
        BareWorkflow.run,
        activity_queue,
        id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        start_signal="go",
        start_signal_args=["go"],
    )
    await handle.result()
    history = await handle.fetch_history()
    if show:
        explain(history)
    done = task_after_activity(history, "bench_noop", NOOP_ACTIVITIES)
    return (done - first_signal(history)).total_seconds()


async def run(n: int, show: bool) -> None:
    """Warm up, then measure n rounds of pipeline and both baselines, interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        server = DevServer(db_file=db, port=free_port(), ui_port=free_port())
        server.start()
        try:
            settings = make_settings(server.address, Path(tmp) / "data")
            client = await connect(settings)
            bare_q = f"{settings.temporal.task_queue_prefix}bare"
            noop_q = f"{settings.temporal.task_queue_prefix}bare-activities"
            bare_worker = Worker(client, task_queue=bare_q, workflows=[BareWorkflow])
            noop_worker = Worker(client, task_queue=noop_q, activities=[noop])
            same_worker = Worker(
                client, task_queue=f"{bare_q}-same", workflows=[BareWorkflow], activities=[noop]
            )
            figures: dict[str, list[float]] = {
                "pipeline": [],
                "traced": [],
                "same": [],
                "split": [],
            }
            async with app_stack(settings, client) as stack, bare_worker, noop_worker, same_worker:
                await pipeline_once(stack, client, False)  # warm-up rounds, not counted
                await bare_once(client, f"{bare_q}-same", "", False)
                await bare_once(client, bare_q, noop_q, False)
                for i in range(n):
                    last = show and i == n - 1
                    TRACING.on = False
                    figures["pipeline"].append(await pipeline_once(stack, client, last))
                    TRACING.on = True
                    figures["traced"].append(await pipeline_once(stack, client, False))
                    TRACING.on = False
                    figures["same"].append(await bare_once(client, f"{bare_q}-same", "", last))
                    figures["split"].append(await bare_once(client, bare_q, noop_q, last))
                    ms = {k: f"{v[-1] * 1000:.0f} ms" for k, v in figures.items()}
                    print(f"  {i + 1}/{n}: {ms}", file=sys.stderr)
        finally:
            server.stop()
    med = {k: statistics.median(v) * 1000 for k, v in figures.items()}
    rows = [
        ("pipeline: accepted -> plan awaiting approval", med["pipeline"]),
        ("the same, traced (spans exported in batches)", med["traced"]),
        (f"bare: {NOOP_ACTIVITIES} no-op activities, workflow's own queue", med["same"]),
        (f"bare: {NOOP_ACTIVITIES} no-op activities, separate queue", med["split"]),
    ]
    print(f"incidents: {n} (medians)")
    for label, value in rows:
        print(f"  {label:<52} {value:7.1f} ms")
    print(f"  tracing cost, traced / untraced:       {med['traced'] / med['pipeline']:.2f}")
    print(f"  spans exported while traced:           {TRACING.exported}")
    print(f"  ratio pipeline / bare, own queue:      {med['pipeline'] / med['same']:.2f}")
    print(f"  ratio pipeline / bare, separate queue: {med['pipeline'] / med['split']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print the last round's events")
    args = parser.parse_args()
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")
    TRACING.install()
    asyncio.run(run(args.incidents, args.explain))
