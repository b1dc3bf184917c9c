"""Benchmark: alert accepted -> plan awaiting approval, against a bare workflow baseline.

    python bench/pipeline.py [--incidents 20]

Both run on the same embedded dev server in this process's run. Times come from the server's
own history timestamps: from the event that recorded the accepted batch (the stream's signal)
to the workflow task that completed right after the plan (the incident now awaits approval);
for the baseline, from its signal to the workflow task after its last no-op activity.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "integration")]

from bare import NOOP_ACTIVITIES, BareWorkflow, noop  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowHistory  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from incidentflow.cli import ops  # noqa: E402
from incidentflow.models import IncidentState  # noqa: E402
from incidentflow.settings import Settings  # noqa: E402
from incidentflow.temporal import DevServer, connect, free_port  # noqa: E402
from workflows.names import stream_workflow_id  # noqa: E402


def _time(event: object) -> datetime:
    return event.event_time.ToDatetime()  # type: ignore[attr-defined, no-any-return]


def first_signal(history: WorkflowHistory) -> datetime:
    """When the server recorded the first signal (the accepted batch)."""
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


async def pipeline_once(stack: object, client: Client, settings: Settings, i: int) -> float:
    from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_state  # noqa: PLC0415

    env = f"bench-{i}-{uuid.uuid4().hex[:6]}"
    payloads = demo_payloads()
    for p in payloads:
        for a in p["alerts"]:
            a["labels"]["environment"] = env
    for p in payloads:
        resp = await stack.post_alertmanager(p)  # type: ignore[attr-defined]
        if resp.status_code != 202:
            raise RuntimeError(resp.text)
    fps = fingerprints_of(payloads, DEMO_ORIGIN)
    while True:
        found = [o.id for o in await ops.open_incidents(client, env) if fps & set(o.fingerprints)]
        if found:
            break
        await asyncio.sleep(0.05)
    await wait_for_state(client, found[0], {IncidentState.AWAITING_APPROVAL})
    stream = await client.get_workflow_handle(stream_workflow_id(env)).fetch_history()
    incident = await client.get_workflow_handle(found[0]).fetch_history()
    await client.get_workflow_handle(found[0]).terminate("benchmark done")
    return (task_after_activity(incident, "plan_remediation") - first_signal(stream)).total_seconds()


async def bare_once(client: Client, queue: str) -> float:
    wid = f"bench-bare-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        BareWorkflow.run, 0, id=wid, task_queue=queue, start_signal="go", start_signal_args=[0]
    )
    await handle.result()
    history = await handle.fetch_history()
    return (task_after_activity(history, "bench_noop", NOOP_ACTIVITIES) - first_signal(history)).total_seconds()


async def main(n: int) -> None:
    from conftest import app_stack, make_settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(db_file=Path(tmp) / "bench.sqlite", port=free_port(), ui_port=free_port())
        server.start()
        try:
            settings = make_settings(server.address, Path(tmp) / "data")
            client = await connect(settings)
            bare_queue = f"{settings.task_queue_prefix}bare"
            async with app_stack(settings, client) as stack, Worker(
                client, task_queue=bare_queue, workflows=[BareWorkflow], activities=[noop]
            ):
                await pipeline_once(stack, client, settings, -1)  # warm-up, not counted
                await bare_once(client, bare_queue)
                pipe: list[float] = []
                bare: list[float] = []
                for i in range(n):  # interleaved so both see the same server state
                    pipe.append(await pipeline_once(stack, client, settings, i))
                    bare.append(await bare_once(client, bare_queue))
                    print(f"  {i + 1}/{n}: pipeline {pipe[-1] * 1000:.0f} ms, bare {bare[-1] * 1000:.0f} ms", file=sys.stderr)
        finally:
            server.stop()
    mp, mb = statistics.median(pipe), statistics.median(bare)
    print(f"incidents: {n}")
    print(f"pipeline median (accepted -> plan awaiting approval): {mp * 1000:.1f} ms")
    print(f"bare workflow median ({NOOP_ACTIVITIES} no-op activities):         {mb * 1000:.1f} ms")
    print(f"ratio pipeline/bare: {mp / mb:.2f}  (goal <= 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20)
    args = parser.parse_args()
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")
    asyncio.run(main(args.incidents))
