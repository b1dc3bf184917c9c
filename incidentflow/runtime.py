"""Process-level tuning of the long-running processes: the webhook's event loop, and the
garbage collector of the webhook and the workers.

**Event loop.** The webhook serves on uvloop (libuv under asyncio's API): sockets, timers and
callbacks cost less per request, which an alert storm of many 100-alert bodies feels.
`INCIDENTFLOW_EVENT_LOOP=asyncio` keeps the standard loop. The workers keep the standard loop:
the Temporal SDK drives workflows on its own loop, and its activities are not socket-bound.

**Garbage collector.** A storm allocates containers by the hundred thousand a second: parsed
bodies, alerts, payloads. Reference counting frees nearly all of them the moment a request or
an activation is done; the collector exists only for reference cycles. With Python's defaults
it still runs a young-generation pass every 700 net allocations and, every so often, a full
pass over everything alive, the tens of thousands of objects the imports made included.
Measured in the webhook during a 20,000-alert storm (`bench/ingest.py`): about a fifth of its
CPU. So once startup is done, what it loaded is frozen (out of the collector's sight for good;
it lives as long as the process anyway), and the young generation is collected every
`INCIDENTFLOW_GC_GEN0_THRESHOLD` allocations (default 10,000). Cycles are still collected,
in larger, rarer passes. 0 keeps Python's defaults.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable

EVENT_LOOP_ENV = "INCIDENTFLOW_EVENT_LOOP"


def serving_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for a serving process, unless `INCIDENTFLOW_EVENT_LOOP=asyncio`.

    None (asyncio's own loop) when asked for, or when uvloop is not installed.
    """
    choice = os.environ.get(EVENT_LOOP_ENV, "uvloop").strip().lower()
    if choice == "asyncio":
        return None
    if choice != "uvloop":
        raise ValueError(f"{EVENT_LOOP_ENV}={choice!r}: use uvloop or asyncio")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a dependency; only a stripped install lacks it
        return None
    return uvloop.new_event_loop


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
