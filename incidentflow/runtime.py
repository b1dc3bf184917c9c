"""Process settings of the long-running processes: the workers' CPU priority, and the
garbage collector of the webhook and the workers.

**Worker priority.** On one host (`incidentflow up`, a small VM) the webhook, Temporal and the
workers share the cores, and during a storm the workers are busy for as long as alerts wait.
Senders time out and retry; an alert correlated a moment later costs nothing. So a worker
process lowers its own priority at start (`INCIDENTFLOW_WORKER_NICE`; `incidentflow up` and the
benchmark start their workers at 10, and the default is 0, for production runs each worker in its
own container): its nice
value, and, when it leads its own session (as `incidentflow up`, systemd and the benchmark start
it), the nice value of that session's scheduling group, for Linux schedules sessions against
each other as groups (autogroup) and a process's own nice then only ranks it inside its group.
It loses CPU only under contention. Measured with
`bench/ingest.py --rounds 4 --compare INCIDENTFLOW_WORKER_NICE=0` (see docs/ingest.md).
Containers and systemd slices have their own CPU weights, which this does not touch.

**Garbage collector.**
A storm allocates containers by the hundred thousand a second: parsed bodies, alerts,
payloads, decoded activity inputs. Reference counting frees nearly all of them the moment a
request or an activation is done; the collector exists only for reference cycles. With Python's
defaults it still runs a young-generation pass every 700 net allocations and, every so often, a
full pass over everything alive, the tens of thousands of objects the imports made included.

So once startup is done, what it loaded is frozen (out of the collector's sight for good; it
lives as long as the process anyway), and the young generation is collected every
`INCIDENTFLOW_GC_GEN0_THRESHOLD` allocations (default 10,000). Cycles are still collected, in
larger, rarer passes; 0 keeps Python's defaults. Measured with
`bench/ingest.py --rounds 4 --compare INCIDENTFLOW_GC_GEN0_THRESHOLD=0`: Python's defaults take
6% fewer alerts a second and drain the storm 19% slower.

**C heap.** A storm's decoded payloads, activations and gRPC buffers are freed when it is
over, but glibc keeps freed pages inside its heaps (the main one and each thread's arena) for
reuse, and hands back only what sits at a heap's top. So a worker returns the free pages to the
kernel every `INCIDENTFLOW_MALLOC_TRIM_SECONDS` (default 30; `malloc_trim(0)`; nothing where
the C library is not glibc; 0 = never). It is part of what a storm leaves, not all: with
`bench/storms.py --storms 3 --alerts 20000 --clients 4 --rest 60`, a trim gave back about
70 MiB of the about 290 MiB a worker had grown by, and the worker sat at 287-298 MiB 60 s after
the last storm instead of 321-389 MiB.

What stays after that (`bench/storms.py --probe`, which probes the worker in place with
bench/memprobe.py) is mostly room, not objects. After 3 x 20,000 alerts, with the stream no
longer holding the batches its input carried (workflows/stream_index.py `release_carried`), the
objects still alive were the open incidents' state (about 2.1 MB each, and 2.7-2.9 MB more each
of their start input, which the SDK holds until the run ends) and the stream's index (3 MB for
3 incidents at 10,000 fingerprints). Python's small-object allocator held 158 arenas (1 MiB
each) for 60 MB of live blocks (37 MB at rest): 29 MB of free blocks and 75 MB of wholly free
pools sat in arenas that a few long-lived blocks keep, and an arena goes back only when it is
empty. How much that is follows the storm's peak more than what is alive: with the stream's
fix, two runs sat at 296 MiB (peak 352) and 272 MiB (peak 326) 60 s after the last storm.
With `PYTHONMALLOC=malloc` in the worker's environment the trim can also hand back free pages
inside glibc's heaps: two runs sat at 214 MiB (peak 274) and 219 MiB (peak 301). It costs
speed and peak: in three alternating pairs of `bench/ingest.py --tracing off` the stream drained
20,000 alerts in 13.9, 11.1, 15.6 s with pymalloc and 19.7, 14.2, 15.0 s with malloc (median 8%
slower), at a peak worker RSS of 218-238 against 230-263 MiB. So it is not the default.

**Recycling.** So no in-process fix gives it back, and the worker does what Celery's
`worker_max_memory_per_child` and gunicorn's `max_requests` do, made safe by Temporal holding
every piece of work: idle for `INCIDENTFLOW_WORKER_RECYCLE_QUIET_SECONDS` (60) above
`INCIDENTFLOW_WORKER_RECYCLE_ABOVE_MIB` (unset: its resting RSS + max(64 MiB, 50%)), it shuts its
workers down gracefully and re-executes itself, keeping its PID (worker.py). Idle is what
`WorkTracker`, an SDK interceptor, sees: no activity in flight and no activity, workflow start,
signal or update (queries are not work) since the last check. Only the sticky cache is lost:
each open workflow's next task replays its history. `bench/storms.py --storms 3 --alerts 20000
--clients 4 --rest 120` (worker nice 0): 102 MiB at rest, peak 246 MiB, 242 MiB when the third
storm was processed; 63 s after it the worker recycled at 213 MiB (ceiling 165 MiB) and sat at
101 MiB at the end of the rest. With `--storms 1 --alerts 5000 --rest 70 --after 1000` and a
120 MiB ceiling, 1000 alerts after the recycle took 2.4 s (replaying three incidents and the
stream) against 1.5 s without a recycle (default ceiling, which 5,000 alerts stayed under at
158 MiB), and took the worker back to 171 MiB (168 without).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

log = logging.getLogger("incidentflow.runtime")
AUTOGROUP = Path("/proc/self/autogroup")
# A derived ceiling sits at least this far above the rest: a few incidents' state (about 2 MB
# each) must not cost the sticky cache; one storm's leftovers (170+ MiB measured) must.
RECYCLE_MIN_GROWTH_MIB = 64
# How often the recycle loop reads RSS and the work counts (cheap: one /proc read).
RECYCLE_CHECK_S = 5.0
# Idle this long after start before the resting RSS is read: imports and the first polls done.
REST_SETTLE_S = 5.0


def lower_priority(nice: int) -> None:
    """Take niceness `nice` (never less than now), and for this session's group when we lead it.

    A group shared with a terminal or a parent is left alone: it is not ours to lower.
    """
    current = os.nice(0)
    if nice > current:
        os.nice(nice - current)
    if nice <= 0 or os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return
    try:
        AUTOGROUP.write_text(str(nice))
    except OSError as err:  # read-only /proc, or a kernel without autogroup
        log.debug("autogroup nice not set: %s", err)


def tune_gc(gen0_threshold: int) -> None:
    """Freeze what startup loaded and collect young objects every `gen0_threshold` allocations.

    Call it once the process has imported and built what it serves with; 0 does nothing.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def malloc_trim() -> Callable[[], int] | None:
    """glibc's `malloc_trim(0)`, or None where the C library is not glibc (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


async def trim_heap_every(seconds: float) -> None:
    """Hand the C heap's free pages back to the kernel every `seconds`, until cancelled.

    0, or a C library without `malloc_trim`, does nothing.
    """
    trim = malloc_trim() if seconds > 0 else None
    if trim is None:
        return
    while True:
        await asyncio.sleep(seconds)
        t0 = time.perf_counter()
        released = trim()
        log.debug("malloc_trim: released=%d in %.1f ms", released, (time.perf_counter() - t0) * 1e3)


def rss_mib() -> float:
    """This process's resident memory (VmRSS), in MiB; NaN where /proc has no status."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def recycle_ceiling(rest_mib: float, above_mib: int | None) -> float | None:
    """The RSS above which an idle worker recycles: the setting, or derived from its rest.

    None (unset) derives it: rest + max(RECYCLE_MIN_GROWTH_MIB, half the rest). 0 = never.
    """
    if above_mib is None:
        return rest_mib + max(RECYCLE_MIN_GROWTH_MIB, rest_mib / 2)
    return float(above_mib) if above_mib > 0 else None


def recycle_reason(
    *,
    rss_mib: float,
    rest_mib: float,
    above_mib: int | None,
    idle_s: float,
    quiet_s: float,
    worked: bool,
) -> str | None:
    """Why an idle worker should re-execute itself now, or None to keep running.

    Only once it has done some work since its rest was measured: a fresh process has nothing
    to give back, and a ceiling set below its rest must not restart it every quiet period.
    """
    ceiling = recycle_ceiling(rest_mib, above_mib)
    if ceiling is None or not worked or idle_s < quiet_s or not rss_mib > ceiling:
        return None
    return (
        f"RSS {rss_mib:.0f} MiB is above the recycle ceiling {ceiling:.0f} MiB (resting "
        f"{rest_mib:.0f} MiB) after {idle_s:.0f} s idle"
    )


class WorkTracker(Interceptor):
    """Counts what a worker does: activities in flight, and each activity or workflow entry.

    Queries are not work here: a dashboard polling an incident must not keep a worker's
    memory from being given back. The workflow side only counts (no clock in workflow code);
    the recycle loop compares counts between its checks.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.entries = 0

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountActivities(next, self)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        tracker = self

        class CountEntries(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                tracker.entries += 1
                return await super().execute_workflow(input)

            async def handle_signal(self, input: HandleSignalInput) -> None:
                tracker.entries += 1
                await super().handle_signal(input)

            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                tracker.entries += 1
                return await super().handle_update_handler(input)

        return CountEntries


class _CountActivities(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, tracker: WorkTracker) -> None:
        super().__init__(next)
        self.tracker = tracker

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        self.tracker.in_flight += 1
        self.tracker.entries += 1
        try:
            return await super().execute_activity(input)
        finally:
            self.tracker.in_flight -= 1
            self.tracker.entries += 1


async def recycle_when_idle(tracker: WorkTracker, *, above_mib: int | None, quiet_s: float) -> str:
    """Return why the worker should recycle, once it should; never returns when `above_mib` is 0.

    The resting RSS is measured the first time the worker has been idle REST_SETTLE_S since
    it started; from then on, every check compares RSS with the ceiling once the worker has
    been idle `quiet_s`.
    """
    if above_mib == 0:
        await asyncio.Event().wait()
    check_s = max(0.2, min(RECYCLE_CHECK_S, quiet_s / 4))
    last_entries = tracker.entries
    idle_since = time.monotonic()
    rest: float | None = None
    worked = False
    while True:
        await asyncio.sleep(check_s)
        now = time.monotonic()
        if tracker.in_flight or tracker.entries != last_entries:
            last_entries = tracker.entries
            idle_since = now
            worked = rest is not None
            continue
        idle_s = now - idle_since
        if rest is None:
            if idle_s >= min(REST_SETTLE_S, quiet_s):
                rest = rss_mib()
                ceiling = recycle_ceiling(rest, above_mib)
                log.info(
                    "resting RSS %.0f MiB; recycles above %.0f MiB once idle %.0f s",
                    rest,
                    ceiling or 0,
                    quiet_s,
                )
            continue
        reason = recycle_reason(
            rss_mib=rss_mib(),
            rest_mib=rest,
            above_mib=above_mib,
            idle_s=idle_s,
            quiet_s=quiet_s,
            worked=worked,
        )
        if reason is not None:
            return reason
