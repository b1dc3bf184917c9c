"""Time and peak memory of one rules investigation as the service graph grows.

A synthetic world per size: services in layers, each calling up to three in the next layer;
10 metric series per service (75 one-minute points: 60 before the onset, 15 after), 10,000
log lines and 50,000 spans per incident; one service deep in the graph saturates its CPU and
its callers alert. Detection and correlation build the incident (not timed); the table times
`investigate` alone (best of `--repeat`) and its peak Python allocation (tracemalloc, a
separate run), with the growth ratio against the previous size.

    .venv/bin/python bench/investigate.py            # 50, 500, 2000 services
    .venv/bin/python bench/investigate.py --sizes 50 500
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import investigate
from incidentflow.evidence import LogLevel, LogRecord, MetricPoint, MetricSeries, SpanRecord
from incidentflow.ingest.alertmanager import AlertmanagerWebhook, normalize
from incidentflow.models import (
    AlertBatch,
    CorrelationInput,
    Incident,
    InvestigationInput,
    Service,
    ServiceGraph,
)
from incidentflow.scenario import Scenario
from incidentflow.sources.bundle import BundleEvidenceSource

ONSET = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
SERIES = ("cpu_usage_ratio", "memory_usage_ratio", "http_latency_p99_seconds",
          "http_error_ratio", "request_rate", "disk_usage_ratio", "gc_pause_seconds",
          "queue_depth", "open_connections", "thread_pool_active")  # fmt: skip
LOG_LINES = 10_000
SPANS = 50_000


def world(n: int, seed: int = 7) -> tuple[Scenario, str]:
    """A graph of `n` services, its telemetry, and the root that fails."""
    rng = random.Random(seed)
    width = max(3, int(n**0.5))
    names = [f"svc-{i:04d}" for i in range(n)]
    layers = [names[i : i + width] for i in range(0, n, width)]
    deps: dict[str, list[str]] = {s: [] for s in names}
    for upper, lower in pairwise(layers):
        for s in upper:
            deps[s] = sorted(rng.sample(lower, min(3, len(lower))))
    root = layers[min(2, len(layers) - 1)][0]
    for s in layers[min(1, len(layers) - 1)][:3]:
        if root not in deps[s] and s != root:
            deps[s] = sorted([*deps[s][:2], root])
    callers = [s for s in names if root in deps[s]]
    graph = ServiceGraph(services=[Service(name=s, depends_on=deps[s]) for s in names])
    metrics: list[MetricSeries] = []
    for s in names:
        for name in SERIES:
            base = rng.uniform(0.1, 1.0)
            pts = []
            for m in range(-60, 15):
                v = base * (1 + rng.gauss(0, 0.05))
                if m >= 0 and (s == root and name == "cpu_usage_ratio"):
                    v = 0.98
                if m >= 1 and s in callers and name == "http_latency_p99_seconds":
                    v *= 4
                pts.append(MetricPoint(at=ONSET + timedelta(minutes=m), value=v))
            metrics.append(MetricSeries(id=f"{s}_{name}", name=name, service=s, points=pts))
    logs = [
        LogRecord(
            at=ONSET + timedelta(seconds=rng.uniform(-3600, 900)),
            service=rng.choice(names),
            level=rng.choice([LogLevel.WARNING, LogLevel.ERROR]),
            message=f"request {rng.randrange(10**8):08x} took {rng.randrange(900)} ms "
            f"in stage {rng.choice(['auth', 'load', 'save', 'render'])}",
        )
        for _ in range(LOG_LINES)
    ]
    logs.sort(key=lambda r: r.at)
    spans: list[SpanRecord] = []
    trace = 0
    while len(spans) < SPANS:
        trace += 1
        at = ONSET + timedelta(seconds=rng.uniform(-3600, 900))
        svc, parent = layers[0][trace % len(layers[0])], None
        for depth in range(4):
            sid = f"{trace:08x}{depth:08x}"
            slow = 0.5 if svc == root and at >= ONSET else 0.0
            spans.append(
                SpanRecord(
                    trace_id=f"{trace:032x}",
                    span_id=sid,
                    parent_id=parent,
                    service=svc,
                    operation=f"{svc}/call",
                    start=at,
                    end=at + timedelta(seconds=0.05 * (4 - depth) + slow),
                )
            )
            if not deps[svc]:
                break
            parent, svc = sid, rng.choice(deps[svc])
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "service": s, "severity": "warning"},
            "annotations": {"summary": f"{s} p99 latency high"},
            "startsAt": (ONSET + timedelta(minutes=2)).isoformat().replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i, s in enumerate(callers)
    ]
    scenario = Scenario(
        name=f"bench-{n}",
        topology=graph,
        alert_payloads=[{"version": "4", "status": "firing", "alerts": alerts}],
        metrics=metrics,
        logs=logs,
        spans=spans,
    )
    return scenario, root


def incident_of(scenario: Scenario) -> Incident:
    """The incident detection and correlation open for the world's alerts."""
    alerts = [
        a for p in scenario.alert_payloads for a in normalize(AlertmanagerWebhook.model_validate(p))
    ]
    batch = AlertBatch(batch_id="bench", environment="production", received_at=ONSET, alerts=alerts)
    detections = detect(batch, scenario.topology).detections
    result = correlate(
        CorrelationInput(detections=detections, open_incidents=[], environment="production"),
        scenario.topology,
    )
    return max(result.new_incidents, key=lambda i: len(i.alerts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'services':>8} {'series':>7} {'spans':>6} {'logs':>6} {'time s':>7} "
          f"{'x time':>6} {'peak MB':>8} {'x mem':>6}  top hypothesis")  # fmt: skip
    prev: tuple[float, float] | None = None
    for n in args.sizes:
        scenario, root = world(n)
        incident = incident_of(scenario)
        source = BundleEvidenceSource(scenario)
        inp = InvestigationInput(incident=incident)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            inv = investigate(inp, scenario.topology, source)
            best = min(best, time.perf_counter() - t0)
        tracemalloc.start()
        investigate(inp, scenario.topology, source)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        top = inv.hypotheses[0] if inv.hypotheses else None
        answer = f"{top.service} {top.confidence:.2f}" if top else "none"
        answer += " (root)" if top and top.service == root else f" (root {root})"
        grow = (
            f"{best / prev[0]:6.1f} {'':>8} {peak / prev[1]:6.1f}"
            if prev
            else f"{'-':>6} {'':>8} {'-':>6}"
        )
        t_grow, _, m_grow = grow.partition(" " * 9)
        print(
            f"{n:>8} {len(scenario.metrics):>7} {len(scenario.spans):>6} "
            f"{len(scenario.logs):>6} {best:>7.2f} {t_grow.strip():>6} {peak:>8.1f} "
            f"{m_grow.strip():>6}  {answer}"
        )
        prev = (best, peak)


if __name__ == "__main__":
    main()
