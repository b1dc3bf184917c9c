"""Benchmark: what one signal costs the embedded Temporal dev server, journal modes compared.

Every delivery the webhook accepts is (part of) a signal, and on the embedded dev server the
cost of a signal is mostly the SQLite commit behind it. This starts the dev server twice on a
fresh file: once in SQLite's rollback-journal mode (the server's own default) and once in
write-ahead-log mode (what `DevServer` starts by default), sends the same signals to one running
workflow on each, and prints wall time and server CPU per signal, and their ratios.

    python bench/signal_cost.py [--signals 300] [--payload-bytes 40000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from temporalio import workflow
from temporalio.client import Client

from incidentflow.temporal import DevServer, free_port


@workflow.defn(sandboxed=False)
class Sink:
    """Counts signals until told to stop; nothing polls its task queue in this benchmark."""

    def __init__(self) -> None:
        self.count = 0

    @workflow.signal
    def take(self, _: str) -> None:
        self.count += 1

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.count < 0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(wal: bool, signals: int, payload: str) -> tuple[float, float]:
    """(wall ms per signal, server CPU ms per signal) on a fresh server."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-signal-"))
    server = DevServer(
        db_file=tmp / "t.sqlite", port=free_port(), ui_port=free_port(), sqlite_wal=wal
    )
    server.start()
    try:
        assert server.process is not None
        client = await Client.connect(server.address)
        handle = await client.start_workflow(Sink.run, id="sink", task_queue="nobody")
        for _ in range(20):  # warm the connection and the server's caches
            await handle.signal(Sink.take, payload)
        cpu0, t0 = cpu_seconds(server.process.pid), time.perf_counter()
        for _ in range(signals):
            await handle.signal(Sink.take, payload)
        wall = (time.perf_counter() - t0) / signals * 1000
        cpu = (cpu_seconds(server.process.pid) - cpu0) / signals * 1000
        return wall, cpu
    finally:
        server.stop()


async def main(args: argparse.Namespace) -> None:
    payload = "x" * args.payload_bytes
    walls: list[float] = []
    cpus: list[float] = []
    for n in range(args.rounds):
        journal = await measure(False, args.signals, payload)
        wal = await measure(True, args.signals, payload)
        print(
            f"round {n + 1}: rollback journal {journal[0]:.2f} ms/signal wall, "
            f"{journal[1]:.2f} ms server CPU; write-ahead log {wal[0]:.2f} ms wall, "
            f"{wal[1]:.2f} ms CPU"
        )
        walls.append(wal[0] / journal[0])
        cpus.append(wal[1] / journal[1])
    print(
        f"write-ahead log / rollback journal (median of {args.rounds}): "
        f"wall {statistics.median(walls):.2f}, server CPU {statistics.median(cpus):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=300)
    parser.add_argument("--payload-bytes", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
