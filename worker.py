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
from incidentflow.runtime import (
    WorkTracker,
    lower_priority,
    recycle_when_idle,
    rss_mib,
    trim_heap_every,
    tune_gc,
)
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
    client: Client,
    settings: Settings,
    queue: str,
    ctx: AgentContext | None = None,
    *,
    tracker: WorkTracker | None = None,
) -> list[Worker]:
    """The Worker objects one process of kind `queue` runs; `tracker` counts their work."""
    interceptors = [tracker] if tracker is not None else []
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
                    interceptors=interceptors,
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
                    interceptors=interceptors,
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
                    interceptors=interceptors,
                )
            )
    return workers


async def run_workers(
    settings: Settings, queue: str, *, stop: asyncio.Event | None = None, recycle: bool = False
) -> str | None:
    """Serve `queue` until `stop` is set, the process gets SIGTERM/SIGINT, or it should recycle.

    With `recycle` (the worker process's own entry point; never a caller that shares its
    process), returns why the process should re-execute itself once its workers have shut
    down gracefully; None when it was stopped.
    """
    ctx = agent_context(settings, queue)
    client = await connect(settings, serve_metrics=True)
    tracker = WorkTracker()
    workers = build_workers(client, settings, queue, ctx, tracker=tracker)
    tune_gc(settings.process.gc_gen0_threshold)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            break  # not the main thread: the caller owns shutdown
    names = ", ".join(w.task_queue for w in workers)
    log = logging.getLogger("incidentflow.worker")
    log.info("serving %s on %s (pid %d)", names, settings.temporal.target, os.getpid())
    tasks = [asyncio.create_task(w.run()) for w in workers]
    # Incidents by state are counted where workflows are served, and only with metrics on.
    census = (
        asyncio.create_task(report_incident_states(client, settings))
        if settings.process.metrics_bind and "workflows" in QUEUES[queue]
        else None
    )
    trimmer = asyncio.create_task(trim_heap_every(settings.process.malloc_trim_seconds))
    recycler = asyncio.create_task(
        recycle_when_idle(
            tracker,
            above_mib=settings.process.worker_recycle_above_mib if recycle else 0,
            quiet_s=settings.process.worker_recycle_quiet_seconds,
        )
    )
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopper, recycler], return_when=asyncio.FIRST_COMPLETED)
    reason = recycler.result() if recycler.done() and not stopper.done() else None
    if reason is not None:
        # One line, with the RSS before: the shutdown below lets anything that arrived in the
        # meantime finish (or Temporal retries it elsewhere); nothing is lost.
        log.warning("recycling (pid %d stays): %s", os.getpid(), reason)
    for helper in (stopper, trimmer, recycler, census):
        if helper is not None:
            helper.cancel()
    # A worker still starting up has nothing to drain: cancel it rather than wait for it.
    for w, task in zip(workers, tasks, strict=True):
        if not w.is_running and not task.done():
            task.cancel()
    await asyncio.gather(*(w.shutdown() for w in workers if w.is_running), return_exceptions=True)
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise IncidentFlowError(f"a worker stopped: {result}") from result
    return reason


def reexecute() -> None:
    """Replace this process with the same command line: same PID, fresh memory.

    Everything is durable in Temporal, so only the sticky cache is lost: each open workflow's
    next task replays its history on the new process.
    """
    logging.getLogger("incidentflow.worker").info(
        "re-executing with RSS %.0f MiB after shutdown", rss_mib()
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


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
        reason = asyncio.run(run_workers(settings, args.queue, recycle=True))
        if provider is not None:
            provider.shutdown()
        if reason is not None:
            reexecute()
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
