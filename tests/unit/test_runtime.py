"""The worker's memory habit: free C heap pages go back to the kernel (incidentflow/runtime.py)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from pathlib import Path

import pytest

from incidentflow.runtime import malloc_trim, trim_heap_every

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
