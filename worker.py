"""Run an IncidentFlow worker: `python worker.py [--queue default|workflows|agents|remediation]`.

Workers are split by credential scope. The default worker serves the workflow and agent task
queues and never registers the executing activities; only `--queue remediation` can act, and
only that process builds an executor (and so reads executor credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from activities.correlation import CorrelationActivities
from activities.detection import DetectionActivities
from activities.execution import ExecutionActivities
from activities.investigation import InvestigationActivities
from activities.notify import NotifyActivities
from activities.postmortem import PostmortemActivities
from activities.remediation import RemediationActivities, options_from
from activities.stream_config import StreamConfigActivities
from incidentflow.active import active_block
from incidentflow.context import AgentContext, build_context
from incidentflow.errors import IncidentFlowError
from incidentflow.executors import Ledger, build_executors
from incidentflow.logs import configure_logging
from incidentflow.metrics import report_incident_states
from incidentflow.notify import build_notifiers
from incidentflow.runtime import lower_priority, trim_heap_every, tune_gc
from incidentflow.settings import Settings
from incidentflow.telemetry import configure_tracing
from incidentflow.temporal import connect
from workflows.incident import IncidentWorkflow
from workflows.stream import AlertStreamWorkflow

WORKFLOWS = [AlertStreamWorkflow, IncidentWorkflow]
# Which task queues each kind of worker process serves.
QUEUES: dict[str, tuple[str, ...]] = {
    "default": ("workflows", "agents"),
    "workflows": ("workflows",),
    "agents": ("agents",),
    "remediation": ("remediation",),
}
# Acting is rare and must not stampede a cluster: few actions at a time.
REMEDIATION_MAX_CONCURRENT = 2


def agent_context(settings: Settings, queue: str) -> AgentContext | None:
    """The agents' context if `queue` serves agents; said in one block at start.

    Built before Temporal is contacted: a bad template, catalog or bundle stops the worker
    at once with one line naming its setting, not at the first incident.
    """
    if queue not in QUEUES:
        raise IncidentFlowError(f"unknown queue {queue!r}: use one of {', '.join(sorted(QUEUES))}")
    ctx = build_context(settings) if "agents" in QUEUES[queue] else None
    log = logging.getLogger("incidentflow.worker")
    log.info("active configuration (%s worker):\n%s", queue, active_block(settings, ctx))
    return ctx


def build_workers(
    client: Client, settings: Settings, queue: str, ctx: AgentContext | None = None
) -> list[Worker]:
    """The Worker objects one process of kind `queue` runs."""
    if queue not in QUEUES:
        raise IncidentFlowError(f"unknown queue {queue!r}: use one of {', '.join(sorted(QUEUES))}")
    workers: list[Worker] = []
    if ctx is None and "agents" in QUEUES[queue]:
        ctx = build_context(settings)
    for scope in QUEUES[queue]:
        if scope == "workflows":
            workers.append(
                Worker(
                    client,
                    task_queue=settings.temporal.workflow_queue,
                    workflows=WORKFLOWS,
                    # The stream reads its queues and settle window here, on its own queue.
                    activities=[StreamConfigActivities(settings).stream_config],
                )
            )
        elif scope == "agents" and ctx is not None:
            investigation = InvestigationActivities(ctx)
            remediation = RemediationActivities(ctx, options_from(settings))
            postmortem = PostmortemActivities(ctx, out_dir=settings.postmortems_path)
            workers.append(
                Worker(
                    client,
                    task_queue=settings.temporal.agent_queue,
                    activities=[
                        DetectionActivities(ctx).detect,
                        CorrelationActivities(ctx).correlate,
                        investigation.investigate,
                        remediation.plan_remediation,
                        remediation.incident_config,
                        remediation.check_promql,
                        postmortem.draft_postmortem,
                        NotifyActivities(build_notifiers(settings.notify)).notify,
                    ],
                )
            )
        elif scope == "remediation":
            # The only place executor credentials are opened (issue 5: least privilege).
            execution = ExecutionActivities(
                executors=build_executors(
                    settings.executors, lock_dir=settings.remediation_dir / "script-locks"
                ),
                ledger=Ledger(settings.remediation_dir / "ledger.sqlite"),
            )
            workers.append(
                Worker(
                    client,
                    task_queue=settings.temporal.remediation_queue,
                    activities=[execution.execute_action],
                    max_concurrent_activities=REMEDIATION_MAX_CONCURRENT,
                )
            )
    return workers


async def run_workers(settings: Settings, queue: str, *, stop: asyncio.Event | None = None) -> None:
    """Serve `queue` until `stop` is set or the process gets SIGTERM/SIGINT."""
    ctx = agent_context(settings, queue)
    client = await connect(settings, serve_metrics=True)
    workers = build_workers(client, settings, queue, ctx)
    tune_gc(settings.process.gc_gen0_threshold)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            break  # not the main thread: the caller owns shutdown
    names = ", ".join(w.task_queue for w in workers)
    logging.getLogger("incidentflow.worker").info(
        "serving %s on %s", names, settings.temporal.target
    )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    # Incidents by state are counted where workflows are served, and only with metrics on.
    census = (
        asyncio.create_task(report_incident_states(client, settings))
        if settings.process.metrics_bind and "workflows" in QUEUES[queue]
        else None
    )
    trimmer = asyncio.create_task(trim_heap_every(settings.process.malloc_trim_seconds))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    trimmer.cancel()
    if census is not None:
        census.cancel()
    # A worker still starting up has nothing to drain: cancel it rather than wait for it.
    for w, task in zip(workers, tasks, strict=True):
        if not w.is_running and not task.done():
            task.cancel()
    await asyncio.gather(*(w.shutdown() for w in workers if w.is_running), return_exceptions=True)
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise IncidentFlowError(f"a worker stopped: {result}") from result


def main(argv: list[str] | None = None) -> int:
    """Parse the queue, build settings, serve until interrupted."""
    parser = argparse.ArgumentParser(description="Run an IncidentFlow worker.")
    parser.add_argument(
        "--queue",
        choices=sorted(QUEUES),
        default="default",
        help="task queues this process serves (default: workflows + agents)",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        lower_priority(settings.process.worker_nice)
        configure_logging(settings.process.log_format, settings.process.log_level)
        provider = configure_tracing(settings.process, f"incidentflow-worker-{args.queue}")
        asyncio.run(run_workers(settings, args.queue))
        if provider is not None:
            provider.shutdown()
    except KeyboardInterrupt:
        return 0
    except IncidentFlowError as err:
        print(f"incidentflow worker: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown: the SDK's native runtime can crash there and mask the code.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
