"""Benchmark: an alert storm through the webhook, against a real Alertmanager in the same run.

    python bench/ingest.py [--alerts 20000] [--batch 100] [--clients 8]

20,000 alerts over 40 services caused by 3 root problems (three dependency trees), posted as
Alertmanager webhook payloads of 100 alerts from 8 concurrent clients to the real ingest
process (`incidentflow serve-webhook`) with a real worker process and dev server. Then the same
alerts go to Debian's `prometheus-alertmanager` (`/api/v2/alerts`) the same way.

Prints alerts/s accepted (202 = durable in Temporal), p50/p99 acknowledgement latency, the time
until the stream had processed every alert, incidents formed (expect 3), alerts lost (expect 0),
peak RSS of ingest and worker, Alertmanager's rate and the ratio.

The whole measurement runs twice in the same invocation, untraced and then traced (both
processes export spans over OTLP/HTTP to a loopback collector, `otlp_sink.py`), and the
tracing cost is printed as traced / untraced rates (goal: tracing costs at most 10%).
`--rounds N` alternates N such pairs and prints the median ratio; `--tracing off|on` runs
only one of them.
`--worker-after` starts the worker only once every alert is accepted: intake measured
without processing competing for the two cores, then the drain is checked as usual. Otherwise
the storm starts once the worker polls its task queues, as a storm meets a running system.
`--compare INCIDENTFLOW_NAME=VALUE` runs with and without one setting, in turn.

Every server (dev server, webhook, worker, Alertmanager) runs in its own session, as a service
does under systemd or docker: where the kernel groups scheduling by session (autogroup, on
here), the load generator does not share a server's CPU share, for either system.
The CPU each of our processes spent per alert while the storm was taken in is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import httpx
import yaml
from alertmanager_peer import alertmanager
from otlp_sink import otlp_collector
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from incidentflow.cli.stack import SHARED_HOST_WORKER_NICE
from incidentflow.models import OpenIncident, StreamStats
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port, port_open
from workflows.names import stream_workflow_id

ROOTS = 3


def catalog() -> tuple[dict[str, Any], list[str]]:
    """Three trees (root <- 4 mids <- 8 leaves), one extra leaf: 40 services."""
    services: list[dict[str, Any]] = []
    for r in range(ROOTS):
        root = f"db-{r}"
        services.append({"name": root, "depends_on": []})
        for m in range(4):
            mid = f"api-{r}-{m}"
            services.append({"name": mid, "depends_on": [root]})
            for leaf in range(2):
                services.append({"name": f"web-{r}-{m}-{leaf}", "depends_on": [mid]})
    services.append({"name": "web-0-extra", "depends_on": ["api-0-0"]})
    return {"services": services}, [s["name"] for s in services]


def storm(n: int, services: list[str], start: datetime) -> list[dict[str, Any]]:
    """`n` Prometheus-style alerts (labels, annotations, startsAt) spread over 5 minutes."""
    alerts = []
    for i in range(n):
        svc = services[i % len(services)]
        alerts.append(
            {
                "labels": {
                    "alertname": f"HighErrorRate{i % 7}",
                    "service": svc,
                    "instance": f"{svc}-pod-{i}",
                    "severity": "critical" if svc.startswith("db-") else "warning",
                },
                "annotations": {"summary": f"errors on {svc}"},
                "startsAt": (start + timedelta(seconds=(i * 300) // n)).isoformat(),
                "generatorURL": "http://prometheus/graph",
            }
        )
    return alerts


def webhook_payload(alerts: list[dict[str, Any]], batch_no: int) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f"storm-{batch_no}",
        "status": "firing",
        "receiver": "incidentflow",
        "alerts": [
            {
                **a,
                "status": "firing",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, a["labels"]["instance"]).hex[:16],
            }
            for a in alerts
        ],
    }


async def blast(url: str, bodies: list[Any], clients: int) -> tuple[float, list[float], int]:
    """POST every body from `clients` concurrent clients; (seconds, latencies, retries)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    retries = 0

    async def client() -> None:
        nonlocal retries
        async with httpx.AsyncClient(timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    t0 = time.perf_counter()
                    resp = await http.post(url, json=body)
                    if resp.status_code < 300:
                        latencies.append(time.perf_counter() - t0)
                        break
                    retries += 1  # 503: the sender retries, as Alertmanager would
                    await asyncio.sleep(0.2)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - t0, latencies, retries


async def wait_for_pollers(client: Client, settings: Settings, timeout_s: float = 120) -> None:
    """Until a worker polls both the workflow and the agents' task queue."""
    queues = [
        (settings.temporal.workflow_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        (settings.temporal.agent_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ]
    deadline = time.monotonic() + timeout_s
    for name, kind in queues:
        while True:
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=name),
                    task_queue_type=kind,
                )
            )
            if answer.pollers:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"no worker polls {name} after {timeout_s:.0f} s")
            await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


async def measure(
    args: argparse.Namespace, otlp_endpoint: str | None
) -> tuple[float, float, float]:
    """One full run (traced when `otlp_endpoint` is set); (accepted alerts/s, end-to-end /s,
    accepted rate over Alertmanager's)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
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
    }
    # One shared host, as `incidentflow up` runs it: its workers yield the CPU to the webhook.
    env.setdefault("INCIDENTFLOW_WORKER_NICE", str(SHARED_HOST_WORKER_NICE))
    if otlp_endpoint:
        env["INCIDENTFLOW_OTLP_ENDPOINT"] = otlp_endpoint
    py = sys.executable
    log = (tmp / "procs.log").open("ab")

    async def start_worker() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            py, "worker.py", cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )

    # --worker-after: intake alone first (the edge and Temporal's capacity), then the drain.
    worker = None if args.worker_after else await start_worker()
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
        if worker is not None:
            # A storm meets workers that are already up: their start (imports, the workflow
            # sandbox's checks) is not part of what a storm costs.
            await wait_for_pollers(client, Settings().replace(dict(task_queue_prefix="bench-")))
        alerts = storm(args.alerts, services, datetime.now(UTC) - timedelta(minutes=6))
        chunks = [alerts[i : i + args.batch] for i in range(0, len(alerts), args.batch)]
        bodies = [webhook_payload(c, n) for n, c in enumerate(chunks)]
        assert server.process is not None
        busy = {"webhook": ingest.pid, "Temporal": server.process.pid}
        if worker is not None:
            busy["worker"] = worker.pid
        before = {name: cpu_seconds(pid) for name, pid in busy.items()}
        ours_s, lat, retries = await blast(
            f"http://127.0.0.1:{port}/v1/alerts/alertmanager", bodies, args.clients
        )
        # What each process spent while the storm was taken in, per alert accepted.
        intake_cpu = {
            name: (cpu_seconds(pid) - before[name]) / args.alerts * 1e6
            for name, pid in busy.items()
        }
        worker = worker or await start_worker()
        handle = client.get_workflow_handle(stream_workflow_id("bench"))
        t_drain = time.perf_counter()
        while True:
            stats = await handle.query("stats", result_type=StreamStats)
            if stats.alerts_processed >= args.alerts or time.perf_counter() - t_drain > 600:
                break
            await asyncio.sleep(0.5)
        drain_s = time.perf_counter() - t_drain + ours_s
        index = await handle.query("open_incidents", result_type=list[OpenIncident])
        held = {fp for inc in index for fp in inc.fingerprints}
        lost = args.alerts - len(held) - stats.alerts_dropped
        rss_ingest, rss_worker = peak_rss_mb(ingest.pid), peak_rss_mb(worker.pid)
    finally:
        for proc in (ingest, worker):
            if proc is not None:
                proc.terminate()
                await proc.wait()
        server.stop()

    with alertmanager(tmp / "am", webhook_url=None) as am:
        am_s, am_lat, am_retries = await blast(f"{am}/api/v2/alerts", chunks, args.clients)

    ours_rate, am_rate = args.alerts / ours_s, args.alerts / am_s
    print(
        f"alerts: {args.alerts} over {len(services)} services, {ROOTS} root problems, "
        f"batches of {args.batch} from {args.clients} clients"
    )
    print(
        f"incidentflow  accepted: {ours_rate:8.0f} alerts/s   ack p50 {pct(lat, 50):6.1f} ms  "
        f"p99 {pct(lat, 99):6.1f} ms   503-retries {retries}"
    )
    print(
        f"alertmanager  accepted: {am_rate:8.0f} alerts/s   ack p50 {pct(am_lat, 50):6.1f} ms  "
        f"p99 {pct(am_lat, 99):6.1f} ms   retries {am_retries}"
    )
    print(f"ratio incidentflow/alertmanager: {ours_rate / am_rate:.2f}x (goal >= 0.5x)")
    print(
        "CPU while taking the storm in, per alert: "
        + ", ".join(f"{name} {us:.0f} us" for name, us in intake_cpu.items())
    )
    print(
        f"all alerts processed by the stream after {drain_s:.1f} s "
        f"({args.alerts / drain_s:.0f} alerts/s end to end), runs {stats.runs}"
    )
    print(
        f"incidents formed: {len(index)} (expect {ROOTS}); opened {stats.incidents_opened}; "
        f"joined {stats.alerts_joined}; dropped {stats.alerts_dropped}"
    )
    print(f"alerts lost: {lost} (expect 0)")
    print(f"peak RSS: ingest {rss_ingest:.0f} MiB, worker {rss_worker:.0f} MiB")
    return ours_rate, args.alerts / drain_s, ours_rate / am_rate


async def compare(args: argparse.Namespace) -> None:
    """`--compare NAME=VALUE`: runs with and without the setting, alternating; their ratio.

    The machine's speed swings from minute to minute, so only runs taken in turn compare.
    """
    name, _, value = args.compare.partition("=")
    if not name.startswith("INCIDENTFLOW_") or not value:
        raise SystemExit("--compare wants INCIDENTFLOW_NAME=VALUE")
    kept = os.environ.get(name)
    runs: dict[str, list[tuple[float, float, float]]] = {"default": [], args.compare: []}
    for n in range(args.rounds):
        order = list(runs) if n % 2 == 0 else list(reversed(runs))
        for variant in order:
            print(f"--- round {n + 1}/{args.rounds}, {variant}")
            if variant == "default":
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
            try:
                runs[variant].append(await measure(args, None))
            finally:
                os.environ.pop(name, None)
                if kept is not None:
                    os.environ[name] = kept
    pairs = list(zip(runs["default"], runs[args.compare], strict=True))
    print(
        f"{args.compare} / default, median of {args.rounds} alternating rounds: accepted "
        f"{statistics.median(b[0] / a[0] for a, b in pairs):.2f}, end to end "
        f"{statistics.median(b[1] / a[1] for a, b in pairs):.2f}; ratio to Alertmanager: "
        f"default {statistics.median(a[2] for a, _ in pairs):.2f}x, "
        f"{args.compare} {statistics.median(b[2] for _, b in pairs):.2f}x"
    )


async def main(args: argparse.Namespace) -> None:
    """The measurement untraced and traced, alternating for `--rounds`; what tracing cost."""
    if args.compare:
        await compare(args)
        return
    modes = ("off", "on") if args.tracing == "both" else (args.tracing,)
    rates: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in modes}
    with otlp_collector() as collector:
        for n in range(args.rounds):
            for mode in modes:
                print(f"--- round {n + 1}/{args.rounds}, tracing {mode}")
                rates[mode].append(await measure(args, collector.url if mode == "on" else None))
    if args.rounds > 1:
        # Both rates swing from run to run on a shared 2-core machine; the median ratio is the
        # figure to quote, next to every round's.
        for mode in modes:
            ratios = [r[2] for r in rates[mode]]
            print(
                f"ratio incidentflow/alertmanager, tracing {mode}, median of {args.rounds} "
                f"rounds: {statistics.median(ratios):.2f}x "
                f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)}; goal >= 0.5x)"
            )
    if len(modes) == 2:
        pairs = list(zip(rates["off"], rates["on"], strict=True))
        accepted = statistics.median(on[0] / off[0] for off, on in pairs)
        end_to_end = statistics.median(on[1] / off[1] for off, on in pairs)
        print(
            f"tracing cost, traced / untraced (median of {args.rounds} rounds): accepted "
            f"{accepted:.2f}, end to end {end_to_end:.2f} (goal >= 0.90); "
            f"spans exported {collector.spans}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tracing", choices=["both", "off", "on"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="untraced/traced pairs to run")
    parser.add_argument(
        "--compare",
        metavar="INCIDENTFLOW_NAME=VALUE",
        help="untraced runs with and without this setting, alternating for --rounds",
    )
    parser.add_argument(
        "--worker-after",
        action="store_true",
        help="start the worker once every alert is accepted: the edge and Temporal alone",
    )
    asyncio.run(main(parser.parse_args()))
