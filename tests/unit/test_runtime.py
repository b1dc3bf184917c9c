"""The worker's memory habit: free C heap pages go back to the kernel (incidentflow/runtime.py)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from pathlib import Path

import pytest

from incidentflow.runtime import (
    WorkTracker,
    malloc_trim,
    recycle_ceiling,
    recycle_reason,
    recycle_when_idle,
    trim_heap_every,
)

trim = malloc_trim()
glibc = pytest.mark.skipif(trim is None, reason="the C library has no malloc_trim (not glibc)")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@glibc
def test_freed_memory_under_a_live_block_comes_back_only_when_trimmed() -> None:
    """What a storm leaves: 64 MiB freed below one block still alive, which glibc keeps."""
    assert trim is not None
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # Small blocks (below the mmap threshold) come from the heap, as decoded payloads do.
    blocks = [libc.malloc(4096) for _ in range(16384)]
    for b in blocks:
        libc.memset(b, 1, 4096)
    pin = libc.malloc(64)  # allocated last: the top of the heap stays in use
    full = rss_mib()
    for b in blocks:
        libc.free(b)
    kept = rss_mib()
    trim()
    trimmed = rss_mib()
    libc.free(pin)
    assert full - kept < 16, f"glibc gave back {full - kept:.0f} MiB by itself"
    assert kept - trimmed > 48, f"trim gave back only {kept - trimmed:.0f} MiB"


async def test_zero_seconds_never_trims() -> None:
    await asyncio.wait_for(trim_heap_every(0), timeout=1)  # returns at once


@glibc
async def test_trims_until_cancelled() -> None:
    task = asyncio.create_task(trim_heap_every(0.01))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def decide(rss: float, idle_s: float, *, above: int | None = None, worked: bool = True) -> bool:
    reason = recycle_reason(
        rss_mib=rss, rest_mib=100, above_mib=above, idle_s=idle_s, quiet_s=60, worked=worked
    )
    return reason is not None


def test_derived_ceiling_is_the_rest_plus_64_mib_or_half_whichever_is_more() -> None:
    assert recycle_ceiling(100, None) == 164
    assert recycle_ceiling(300, None) == 450
    assert recycle_ceiling(100, 250) == 250
    assert recycle_ceiling(100, 0) is None


def test_recycles_only_above_the_ceiling_after_the_quiet_period() -> None:
    assert decide(272, 61)  # what 3 x 20,000 alerts left, a minute after
    assert not decide(272, 59)  # not quiet long enough: a storm's gap
    assert not decide(160, 600)  # a few incidents' growth: under rest + 64 MiB
    assert decide(120, 60, above=110)
    assert not decide(1000, 600, above=0)  # 0 = never


def test_a_worker_that_did_nothing_since_its_rest_never_recycles() -> None:
    # Else a ceiling set below the rest would restart an idle worker every quiet period.
    assert not decide(500, 600, above=1, worked=False)
    assert decide(500, 600, above=1, worked=True)


def test_the_reason_says_rss_ceiling_rest_and_idle_time() -> None:
    reason = recycle_reason(
        rss_mib=272.4, rest_mib=103, above_mib=None, idle_s=61, quiet_s=60, worked=True
    )
    assert reason == (
        "RSS 272 MiB is above the recycle ceiling 167 MiB (resting 103 MiB) after 61 s idle"
    )


async def test_the_loop_waits_for_work_in_flight_then_for_quiet() -> None:
    tracker = WorkTracker()
    loop = asyncio.create_task(recycle_when_idle(tracker, above_mib=1, quiet_s=0.4))
    await asyncio.sleep(0.6)  # resting RSS measured, nothing done since: no reason
    assert not loop.done()
    tracker.in_flight = 1  # an activity running for a second
    tracker.entries += 1
    await asyncio.sleep(1.0)
    assert not loop.done()
    tracker.in_flight = 0
    tracker.entries += 1
    reason = await asyncio.wait_for(loop, timeout=3)
    assert "above the recycle ceiling 1 MiB" in reason


async def test_zero_never_recycles() -> None:
    loop = asyncio.create_task(recycle_when_idle(WorkTracker(), above_mib=0, quiet_s=0.1))
    await asyncio.sleep(0.5)
    assert not loop.done()
    loop.cancel()
