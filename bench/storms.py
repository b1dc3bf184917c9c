"""Benchmark: several alert storms into one environment; is everything still bounded?

    python bench/storms.py [--storms 3] [--alerts 20000] [--batch 100] [--clients 8]

Issue 14: three 20,000-alert storms into one environment all joined one incident; the worker
went from 85 to 668 MB and stayed there, and at 60,000 alerts the incident's `record` query
failed ("Blob data size exceeds limit"), so `show` and `approve` failed. This runs the real
webhook, worker and dev server (as bench/ingest.py does), sends `--storms` storms of
`--alerts` new alerts each, waits until the stream has processed each, and prints per storm:
the time to process it, the worker's resident memory, every open incident's `record` size
(JSON, as the query answers it) with its detail and digest counts, the `open_incidents` query
size and the stream's history. After the last storm it waits `--rest` seconds and prints the
worker's resident memory again, next to its resting level before the first storm. A worker
idle for INCIDENTFLOW_WORKER_RECYCLE_QUIET_SECONDS (60) above its ceiling re-executes itself
with the same PID (incidentflow/runtime.py); the rest prints when it did, and the peak is kept
across it (the kernel's VmHWM starts again at exec). `--rest 120` lets the quiet period pass;
`--after N` then sends N more alerts and says how long the (recycled) worker took with them.

`--probe` runs the worker under bench/memdiag.py and has it run bench/memprobe.py (who holds
what is alive, pymalloc's arenas) before the first storm and after the rest; `--hold SECONDS`
keeps everything up at the end, to probe the same worker again with `kill -USR1 <pid>`.
A probed worker is not measured again: the probe changes what the collector has frozen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests" / "integration")]

import yaml
from ingest import blast, catalog, peak_rss_mb, wait_for_pollers
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from incidentflow.models import IncidentRecord, OpenIncident, StreamStats
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port, port_open
from workflows.names import stream_workflow_id

# Temporal refuses a payload (a query answer, a workflow input) over this many bytes.
PAYLOAD_LIMIT = 2 * 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def smaps_mb(pid: int) -> str:
    """Resident memory by kind of mapping: the [heap], anonymous maps, and files (code, libs)."""
    kinds = {"heap": 0, "anon": 0, "file": 0}
    kind = "anon"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else ""
            kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
        elif head and head[0] == "Rss:":
            kinds[kind] += int(head[1])
    return ", ".join(f"{k} {v / 1024:.0f}" for k, v in kinds.items()) + " MiB"


def storm_bodies(
    n: int, batch: int, services: list[str], start: datetime, tag: str
) -> list[dict[str, Any]]:
    """`n` new alerts (fingerprints unique to this storm) in webhook payloads of `batch`."""
    bodies = []
    for b in range(0, n, batch):
        alerts = []
        for i in range(b, min(b + batch, n)):
            svc = services[i % len(services)]
            instance = f"{svc}-pod-{tag}-{i}"
            alerts.append(
                {
                    "status": "firing",
                    "labels": {
                        "alertname": f"HighErrorRate{i % 7}",
                        "service": svc,
                        "instance": instance,
                        "severity": "critical" if svc.startswith("db-") else "warning",
                    },
                    "annotations": {"summary": f"errors on {svc}"},
                    "startsAt": (start + timedelta(seconds=(i * 300) // n)).isoformat(),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph",
                    "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, instance).hex[:16],
                }
            )
        bodies.append(
            {
                "version": "4",
                "groupKey": f"storm-{tag}-{b}",
                "status": "firing",
                "receiver": "incidentflow",
                "alerts": alerts,
            }
        )
    return bodies


async def processed(stream: WorkflowHandle[Any, Any], want: int, deadline: float) -> StreamStats:
    """The stream's stats once it has processed `want` alerts (or at `deadline`, perf_counter)."""
    while True:
        try:
            stats = await stream.query("stats", result_type=StreamStats)
        except RPCError as err:  # a query that timed out while the worker was busy
            print(f"  (stats query failed, asking again: {err})")
            await asyncio.sleep(1)
            continue
        if stats.alerts_processed >= want or time.perf_counter() > deadline:
            return stats
        await asyncio.sleep(0.5)


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def recycles(log: Path) -> list[str]:
    """The worker's recycle lines so far (worker.py: idle above its ceiling, it re-executes)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(errors="replace").splitlines():
        start = line.find("recycling (pid")
        if start >= 0:
            found.append(line[start:].split('"')[0])
    return found


def probes(where: Path) -> set[Path]:
    """The probe reports written so far, finished or not."""
    return set(where.glob("memprobe-*.txt")) if where.exists() else set()


async def probe(pid: int, where: Path) -> None:
    """Have the worker run bench/memprobe.py (bench/memdiag.py) and say where it wrote."""
    before = probes(where)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(1200):
        await asyncio.sleep(0.5)
        for path in probes(where) - before:
            if "# probe took" in path.read_text():
                print(f"probe written to {path}")
                return
    print("the probe wrote nothing in 10 minutes")


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-storms-"))
    graph, services = catalog()
    (tmp / "catalog.yml").write_text(yaml.safe_dump(graph))
    server = DevServer(db_file=tmp / "t.sqlite", port=free_port(), ui_port=free_port())
    server.start()
    port = free_port()
    env = {
        **os.environ,
        "INCIDENTFLOW_TEMPORAL_ADDRESS": server.address,
        "INCIDENTFLOW_ENVIRONMENT": "bench",
        "INCIDENTFLOW_CATALOG_PATH": str(tmp / "catalog.yml"),
        "INCIDENTFLOW_DATA_DIR": str(tmp / "data"),
        "INCIDENTFLOW_WEBHOOK_PORT": str(port),
        "INCIDENTFLOW_TASK_QUEUE_PREFIX": "bench-",
        # The storms stay open: nobody approves, nothing expires while we measure.
        "INCIDENTFLOW_APPROVAL_TIMEOUT_SECONDS": "86400",
    }
    log = (tmp / "procs.log").open("ab")
    py = sys.executable
    # --probe: the same worker, run by bench/memdiag.py so that it answers SIGUSR1 with a probe.
    entry = ["bench/memdiag.py"] if args.probe else ["worker.py"]
    env["MEMDIAG_OUT"] = str(tmp / "probes")
    worker = await asyncio.create_subprocess_exec(
        py, *entry, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    ingest = await asyncio.create_subprocess_exec(
        py,
        "starter.py",
        "serve-webhook",
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            if port_open("127.0.0.1", port):
                break
            await asyncio.sleep(0.1)
        client = await connect(Settings().replace(dict(temporal_address=server.address)))
        await wait_for_pollers(client, Settings().replace(dict(task_queue_prefix="bench-")))
        await asyncio.sleep(args.rest / 6)
        rest = rss_mb(worker.pid)
        print(f"worker resting RSS before the first storm: {rest:.0f} MiB ({smaps_mb(worker.pid)})")
        if args.probe:  # the baseline the probe after the storms compares with
            await probe(worker.pid, tmp / "probes")
        peak = peak_rss_mb(worker.pid)
        stream = client.get_workflow_handle(stream_workflow_id("bench"))
        start = datetime.now(UTC) - timedelta(minutes=6)
        for s in range(args.storms):
            bodies = storm_bodies(args.alerts, args.batch, services, start, f"s{s}")
            t0 = time.perf_counter()
            sent_s, _, retries = await blast(
                f"http://127.0.0.1:{port}/v1/alerts/alertmanager", bodies, args.clients
            )
            want = args.alerts * (s + 1)
            stats = await processed(stream, want, t0 + args.timeout)
            took = time.perf_counter() - t0
            peak = max(peak, peak_rss_mb(worker.pid))
            index = await stream.query("open_incidents", result_type=list[OpenIncident])
            index_bytes = len(b"[" + b",".join(o.model_dump_json().encode() for o in index) + b"]")
            desc = await stream.describe()
            info = desc.raw_description.workflow_execution_info
            print(
                f"storm {s + 1}: {args.alerts} alerts accepted in {sent_s:.1f} s "
                f"({retries} 503-retries), all {stats.alerts_processed}/{want} processed after "
                f"{took:.1f} s; worker RSS {rss_mb(worker.pid):.0f} MiB "
                f"(peak {peak_rss_mb(worker.pid):.0f}; {smaps_mb(worker.pid)})"
            )
            print(
                f"  stream: {stats.incidents_opened} opened, {stats.alerts_joined} joined, "
                f"{stats.alerts_dropped} dropped, {stats.alerts_quarantined} quarantined, "
                f"run {stats.runs}, history {info.history_length} events / "
                f"{info.history_size_bytes / 1e6:.1f} MB; open_incidents answer "
                f"{index_bytes / 1e3:.0f} kB for {len(index)} incident(s)"
            )
            for inc in sorted(index, key=lambda o: -len(o.fingerprints)):
                handle = client.get_workflow_handle(inc.id)
                try:
                    record = await handle.query("record", result_type=IncidentRecord)
                except Exception as err:
                    print(f"  {inc.id}: record query FAILED: {err}")
                    continue
                size = len(record.model_dump_json())
                inc_info = (await handle.describe()).raw_description.workflow_execution_info
                digest = record.digest
                counted = digest.alerts if digest else 0
                print(
                    f"  {inc.id}: record {size / 1e3:.0f} kB "
                    f"({'under' if size < PAYLOAD_LIMIT else 'OVER'} 2 MB), "
                    f"{len(record.incident.alerts)} alerts in detail + {counted} in the digest, "
                    f"{len(record.timeline)} timeline events, index holds "
                    f"{len(inc.fingerprints)} fingerprints; history "
                    f"{inc_info.history_length} events / {inc_info.history_size_bytes / 1e6:.1f} MB"
                )
        peak = max(peak, peak_rss_mb(worker.pid))
        rested = time.perf_counter()
        seen = recycles(tmp / "procs.log")
        while time.perf_counter() - rested < args.rest:
            await asyncio.sleep(1)
            # The worker may re-execute itself (same PID; VmHWM starts again): keep the peak.
            peak = max(peak, peak_rss_mb(worker.pid))
            for line in recycles(tmp / "procs.log")[len(seen) :]:
                print(f"  {time.perf_counter() - rested:.0f} s after the last storm: {line}")
                seen.append(line)
        alive = worker.returncode is None and running(worker.pid)
        print(
            f"worker RSS {args.rest:.0f} s after the last storm: {rss_mb(worker.pid):.0f} MiB "
            f"(resting before: {rest:.0f} MiB, peak {peak:.0f} MiB; {smaps_mb(worker.pid)}); "
            f"pid {worker.pid} {'still serving' if alive else 'GONE'}, recycled "
            f"{len(recycles(tmp / 'procs.log'))} time(s) in all"
        )
        if args.after:
            # The recycled worker's first tasks replay each open workflow's history (its sticky
            # cache went with the old process): how long a few more alerts take then.
            bodies = storm_bodies(args.after, args.batch, services, start, "after")
            t0 = time.perf_counter()
            await blast(f"http://127.0.0.1:{port}/v1/alerts/alertmanager", bodies, args.clients)
            want = args.alerts * args.storms + args.after
            stats = await processed(stream, want, t0 + args.timeout)
            print(
                f"{args.after} more alerts: {stats.alerts_processed}/{want} processed after "
                f"{time.perf_counter() - t0:.1f} s; worker RSS {rss_mb(worker.pid):.0f} MiB"
            )
        if args.probe:
            await probe(worker.pid, tmp / "probes")
        if args.hold:
            print(
                f"holding for {args.hold:.0f} s: worker pid {worker.pid}, server "
                f"{server.address}; `kill -USR1 {worker.pid}` runs a probe into {tmp / 'probes'}"
            )
            await asyncio.sleep(args.hold)
    finally:
        for proc in (ingest, worker):
            proc.terminate()
            await proc.wait()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storms", type=int, default=3)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rest", type=float, default=60.0, help="seconds to wait at the end")
    parser.add_argument(
        "--after", type=int, default=0, help="alerts to send after the rest (0 = none)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="per storm, seconds")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="run the worker under bench/memdiag.py; probe it (bench/memprobe.py) before and after",
    )
    parser.add_argument(
        "--hold", type=float, default=0.0, help="seconds to keep everything up at the end"
    )
    asyncio.run(main(parser.parse_args()))
