"""Probe run inside a worker by bench/memdiag.py: who holds the objects a storm left alive.

Writes to `out`, after a full collection: pymalloc's blocks in use against the objects the
collector can reach (the rest is held from C, or leaked); live objects by type; for the
project's pydantic models and protobuf messages, a sample's referrer chains up to something
that names its owner (a module, a class instance, a frame, a task); pymalloc's blocks by size
class. When tracemalloc traces (`PYTHONTRACEMALLOC=25`), it saves a snapshot next to `out` and
prints the allocation sites that grew since the previous probe's snapshot. It unfreezes and
freezes again what `incidentflow.runtime.tune_gc` froze (to see it), so a worker it probed is
not the worker it was: use it for diagnosis, not for measuring.
"""

from __future__ import annotations

import collections
import gc
import os
import sys
import tempfile
import tracemalloc
import types
from pathlib import Path
from typing import Any

# Given by memdiag.run_probe; standard output when run on its own.
out: Any = globals().get("out", sys.stdout)
CHAINS = 3
DEPTH = 12
OWNED = ("incidentflow.", "temporalio.api.", "workflows.")


def say(*parts: object) -> None:
    print(*parts, file=out, flush=True)


def type_name(obj: object) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def describe(obj: Any) -> str:
    try:
        if isinstance(obj, dict):
            return f"dict(len={len(obj)}, keys={[str(k)[:24] for k in list(obj)[:5]]})"
        if isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
            return f"{type(obj).__name__}(len={len(obj)})"
        if isinstance(obj, types.FrameType):
            return f"frame {obj.f_code.co_name} {obj.f_code.co_filename}:{obj.f_lineno}"
        if isinstance(obj, types.ModuleType):
            return f"module {obj.__name__}"
        if isinstance(obj, types.CoroutineType):
            return f"coroutine {obj.__qualname__}"
        if isinstance(obj, (types.FunctionType, types.MethodType)):
            return f"{type(obj).__name__} {obj.__qualname__}"
    except Exception as err:  # a proxy or a half-built object
        return f"{type_name(obj)} (unprintable: {err})"
    return type_name(obj)


def chain(obj: Any, alive: set[int]) -> list[str]:
    """Referrers upward (one each step, among objects alive before the probe) to a namer."""
    lines = [describe(obj)]
    seen = {id(obj)}
    cur = obj
    for _ in range(DEPTH):
        refs = [r for r in gc.get_referrers(cur) if id(r) in alive and id(r) not in seen]
        if not refs:
            lines.append("  <- (nothing the collector tracks: held from C, or a root)")
            break
        kinds = dict(collections.Counter(type(r).__name__ for r in refs))
        cur = refs[0]
        seen.add(id(cur))
        lines.append(f"  <- {describe(cur)}   [referrers: {kinds}]")
        if isinstance(cur, (types.ModuleType, types.FrameType)) or (
            type_name(cur).startswith(("workflows.", "temporalio.worker"))
            and not isinstance(cur, (dict, list))
        ):
            break
    return lines


def census(objs: list[Any]) -> None:
    reached: set[int] = set()
    untracked: collections.Counter[str] = collections.Counter()
    nbytes: collections.Counter[str] = collections.Counter()
    for o in objs:
        for r in gc.get_referents(o):
            if not gc.is_tracked(r) and id(r) not in reached:
                reached.add(id(r))
                untracked[type(r).__name__] += 1
                nbytes[type(r).__name__] += sys.getsizeof(r)
    say(
        f"pymalloc blocks in use: {sys.getallocatedblocks()}; objects the collector tracks: "
        f"{len(objs)}; untracked objects they refer to: {len(reached)}"
    )
    for name, n in untracked.most_common(8):
        say(f"   untracked {name}: {n} ({nbytes[name] / 1e6:.1f} MB)")
    by_type = collections.Counter(type_name(o) for o in objs)
    for name, n in by_type.most_common(25):
        say(f"{n:>9}  {name}")


def owners(objs: list[Any]) -> None:
    alive = {id(o) for o in objs}
    groups: dict[str, list[Any]] = collections.defaultdict(list)
    for o in objs:
        if type_name(o).startswith(OWNED):
            groups[type_name(o)].append(o)
    for name in sorted(groups, key=lambda n: -len(groups[n]))[:12]:
        members = groups[name]
        say(f"\n== {name}: {len(members)} live")
        direct: collections.Counter[str] = collections.Counter()
        for o in members[:: max(1, len(members) // 200)]:
            for r in gc.get_referrers(o):
                if id(r) in alive:
                    direct[describe(r)[:100]] += 1
        for what, n in direct.most_common(6):
            say(f"   direct referrer x{n}: {what}")
        for o in members[:: max(1, len(members) // CHAINS)][:CHAINS]:
            say("  chain: " + "\n    ".join(chain(o, alive)))


def malloc_stats() -> None:
    fd, path = tempfile.mkstemp()
    saved = os.dup(2)
    os.dup2(fd, 2)  # _debugmallocstats writes to the C stderr
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    text = Path(path).read_text()
    Path(path).unlink()
    keep = [ln for ln in text.splitlines() if ln[:5].strip().isdigit() or "bytes in" in ln]
    say("\npymalloc size classes (class, size, pools, blocks in use, free blocks):")
    say("\n".join(keep))


def traced() -> None:
    if not tracemalloc.is_tracing():
        return
    where = Path(out.name).parent
    snaps = sorted(where.glob("snapshot-*.pickle"))
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    snap.dump(str(where / f"snapshot-{len(snaps):03d}.pickle"))
    say(f"\ntracemalloc: {sum(s.size for s in snap.statistics('filename')) / 1e6:.1f} MB traced")
    if not snaps:
        say("largest allocation sites:")
        for stat in snap.statistics("traceback")[:10]:
            say(f"{stat.size / 1e6:.1f} MB, {stat.count} blocks")
            for line in stat.traceback.format(most_recent_first=True)[:40]:
                say(f"   {line}")
        return
    before = tracemalloc.Snapshot.load(str(snaps[-1]))
    say(f"grown since {snaps[-1].name}, by allocation site:")
    for stat in snap.compare_to(before, "traceback")[:15]:
        say(f"{stat.size_diff / 1e6:+.1f} MB, {stat.count_diff:+d} blocks")
        for line in stat.traceback.format(most_recent_first=True)[:40]:
            say(f"   {line}")


def main() -> None:
    gc.collect()
    gc.unfreeze()  # the frozen startup objects are alive too, and may be referrers
    try:
        objs = gc.get_objects()
        census(objs)
        owners(objs)
    finally:
        objs = []
        gc.freeze()
    malloc_stats()
    traced()


main()
