"""Write the scenario bundles in this folder from the specs in `specs.py` (format v1).

    python scenarios/generate.py [NAME...]    # every bundle, or only these

Deterministic (noise seeded by the bundle's name); synthetic data; see docs/scenario-bundle-v1.md.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import SPECS, AlertSpec, Spec
from topologies import BANK, SHOP

HERE = Path(__file__).resolve().parent
STEP = timedelta(minutes=1)
BEFORE = timedelta(minutes=90)  # recorded history before onset: the baseline
AFTER = timedelta(minutes=20)
TRACE_EVERY = timedelta(seconds=30)
TOPOLOGIES = {"shop": SHOP, "bank": BANK}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fingerprint(labels: dict[str, str]) -> str:
    text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _graph(spec: Spec) -> dict[str, list[str]]:
    return {s["name"]: s["depends_on"] for s in TOPOLOGIES[spec.topology]}


def _path(graph: dict[str, list[str]], top: str, bottom: str) -> list[str]:
    """Services from `top` down to `bottom` along calls (breadth first), inclusive."""
    prev: dict[str, str] = {}
    queue, seen = [top], {top}
    while queue:
        node = queue.pop(0)
        if node == bottom:
            out = [bottom]
            while out[-1] != top:
                out.append(prev[out[-1]])
            return list(reversed(out))
        for dep in graph[node]:
            if dep not in seen:
                seen.add(dep)
                prev[dep] = node
                queue.append(dep)
    return [top] if top == bottom else []


def _affected(spec: Spec) -> dict[str, float]:
    """Service -> how strongly it suffers (1 at the root, less upstream)."""
    graph = _graph(spec)
    out: dict[str, float] = {}
    if spec.root is None:
        return out
    for edge in spec.symptom_tops:
        for depth, svc in enumerate(reversed(_path(graph, edge, spec.root))):
            out[svc] = max(out.get(svc, 0.0), 1.0 / (1 + depth * 0.6))
    out[spec.root] = 1.0
    return out


def _series(spec: Spec, rnd: random.Random, onset: datetime) -> list[dict[str, Any]]:
    affected = _affected(spec)
    t0, t1 = onset - BEFORE, onset + AFTER
    out: list[dict[str, Any]] = []
    for svc in TOPOLOGIES[spec.topology]:
        name, tier = svc["name"], svc["tier"]
        base = {
            "http_error_ratio": rnd.uniform(0.002, 0.006),
            "http_latency_p99_seconds": rnd.uniform(0.08, 0.3),
            "request_rate": rnd.uniform(50, 400),
            "cpu_usage_ratio": rnd.uniform(0.2, 0.45),
            "memory_usage_ratio": rnd.uniform(0.4, 0.6),
        }
        if tier == "datastore":
            base = {
                "up": 1.0,
                "db_query_latency_p99_seconds": rnd.uniform(0.005, 0.03),
                "connections_in_use": rnd.uniform(20, 60),
                "disk_used_ratio": rnd.uniform(0.5, 0.7),
                "cpu_usage_ratio": rnd.uniform(0.15, 0.35),
            }
        if tier == "external":
            base = {"http_latency_p99_seconds": rnd.uniform(0.1, 0.3), "up": 1.0}
        hit = affected.get(name, 0.0)
        for metric, level in base.items():
            points = []
            at = t0
            while at <= t1:
                since = (at - onset).total_seconds() / 60 + spec.lead_minutes
                value = level * (1 + rnd.gauss(0, 0.05)) if metric != "up" else 1.0
                effect = (
                    spec.effects.get(metric)
                    if name == spec.root
                    else spec.co_effects.get(name, {}).get(metric)
                )
                if effect is not None and since >= 0:
                    ramp = min(1.0, (since + 1) / max(effect[1], 1))
                    value = value + (effect[0] - level) * ramp if metric != "up" else effect[0]
                elif hit and since >= 1 and name != spec.root and spec.propagates:
                    if metric == "http_error_ratio":
                        value += 0.12 * hit * (1 + rnd.gauss(0, 0.1))
                    elif metric == "http_latency_p99_seconds":
                        value += 1.5 * hit * (1 + rnd.gauss(0, 0.1))
                points.append([_stamp(at), round(max(value, 0.0), 6)])
                at += STEP
            labels = {"service": name, "namespace": spec.topology}
            out.append(
                {
                    "id": f"{name}_{metric}",
                    "name": metric,
                    "service": name,
                    "labels": labels,
                    "unit": "ratio"
                    if metric.endswith("ratio")
                    else ("seconds" if metric.endswith("seconds") else ""),
                    "query": f'{metric}{{service="{name}"}}',
                    "points": points,
                }
            )
    return out


NOISE_LINES = [
    ("info", "health check ok; {svc} serving"),
    ("info", "handled {n} requests in the last minute"),
    ("warning", "slow query took {ms}ms on table {table}"),
    ("warning", "retrying request {id} after transient error (attempt 1)"),
    ("info", "cache hit ratio {pct} for {table}"),
]


def _logs(spec: Spec, rnd: random.Random, onset: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t0 = onset - BEFORE
    graph = _graph(spec)
    for svc in graph:
        at = t0 + timedelta(seconds=rnd.randint(0, 120))
        while at <= onset + AFTER:
            level, text = rnd.choice(NOISE_LINES)
            msg = text.format(
                svc=svc,
                n=rnd.randint(100, 9000),
                ms=rnd.randint(200, 900),
                table=rnd.choice(["orders", "users", "events"]),
                id=f"{rnd.getrandbits(48):012x}",
                pct=f"0.{rnd.randint(70, 99)}",
            )
            out.append(_log(at, svc, level, msg, rnd, {}))
            at += timedelta(seconds=rnd.randint(150, 420))
    affected = _affected(spec)
    start = onset - timedelta(minutes=spec.lead_minutes)
    for svc, lines in spec.logs.items():
        for level, text, attrs in lines:
            at = start + timedelta(seconds=rnd.randint(5, 40))
            while at <= onset + AFTER:
                msg = text.format(id=f"{rnd.getrandbits(48):012x}", n=rnd.randint(2, 999))
                out.append(_log(at, svc, level, msg, rnd, attrs))
                at += timedelta(seconds=rnd.randint(15, 45))
    if spec.root is not None and spec.propagates:
        for svc in affected:
            if svc == spec.root:
                continue
            callee = next((d for d in graph[svc] if d in affected), None)
            if callee is None:
                continue
            at = start + timedelta(seconds=rnd.randint(60, 120))
            while at <= onset + AFTER:
                msg = f"{spec.caller_error} calling {callee} (request {rnd.getrandbits(40):010x})"
                out.append(_log(at, svc, "error", msg, rnd, {"peer.service": callee}))
                at += timedelta(seconds=rnd.randint(10, 30))
    return sorted(out, key=lambda r: r["time"])


def _log(
    at: datetime, svc: str, level: str, msg: str, rnd: random.Random, attrs: dict[str, str]
) -> dict[str, Any]:
    return {
        "time": _stamp(at),
        "service": svc,
        "level": level,
        "message": msg,
        "trace_id": f"{rnd.getrandbits(128):032x}",
        "attributes": attrs,
    }


def _spans(spec: Spec, rnd: random.Random, onset: datetime) -> list[dict[str, Any]]:
    if spec.root is None or not spec.trace_from:
        return []
    chain = _path(_graph(spec), spec.trace_from, spec.root)
    out: list[dict[str, Any]] = []
    start = onset - timedelta(minutes=spec.lead_minutes)
    at = onset - timedelta(minutes=40)
    while at <= onset + AFTER:
        trace = f"{rnd.getrandbits(128):032x}"
        faulty = at >= start
        spans: list[dict[str, Any]] = []

        def call(
            i: int,
            parent: str | None,
            t: datetime,
            trace: str = trace,
            spans: list[dict[str, Any]] = spans,
            faulty: bool = faulty,
        ) -> datetime:
            svc = chain[i]
            sid = f"{rnd.getrandbits(64):016x}"
            own = timedelta(milliseconds=rnd.uniform(3, 12))
            if faulty and svc == spec.root and spec.trace_effect == "slow":
                own *= 25
            end = t + own
            status = "error" if faulty and spec.trace_effect == "error" else "ok"
            if i + 1 < len(chain):
                cid = f"{rnd.getrandbits(64):016x}"
                wire = timedelta(milliseconds=rnd.uniform(0.5, 2))
                if faulty and chain[i + 1] == spec.root and spec.trace_effect == "wire":
                    wire *= 200
                inner_end = call(i + 1, cid, t + own + wire / 2)
                cend = inner_end + wire / 2
                spans.append(
                    {
                        "trace_id": trace,
                        "span_id": cid,
                        "parent_id": sid,
                        "service": svc,
                        "operation": f"call {chain[i + 1]}",
                        "start": t + own,
                        "end": cend,
                        "status": status,
                        "attributes": {"span.kind": "client"},
                    }
                )
                end = cend
            spans.append(
                {
                    "trace_id": trace,
                    "span_id": sid,
                    "parent_id": parent,
                    "service": svc,
                    "operation": f"{svc} handle",
                    "start": t,
                    "end": end,
                    "status": status,
                    "attributes": {"span.kind": "server"},
                }
            )
            return end

        call(0, None, at)
        for s in spans:
            s["start"] = s["start"].isoformat(timespec="microseconds").replace("+00:00", "Z")
            s["end"] = s["end"].isoformat(timespec="microseconds").replace("+00:00", "Z")
        out.extend(spans)
        at += TRACE_EVERY
    return out


def _payload(
    alert: AlertSpec, spec: Spec, onset: datetime, status: str, ends: datetime | None
) -> tuple[dict[str, Any], str]:
    labels = {
        "alertname": alert.name,
        "service": alert.service,
        "severity": alert.severity,
        "namespace": spec.topology,
    }
    fp = _fingerprint(labels)
    body = {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": alert.summary or f"{alert.name} on {alert.service}",
            "runbook_url": f"https://runbooks.example.com/{alert.service}",
        },
        "startsAt": _stamp(onset + timedelta(seconds=alert.delay_s)),
        "endsAt": _stamp(ends) if ends else "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus.monitoring.svc:9090/graph?g0.expr={alert.name}",
        "fingerprint": fp,
    }
    return {
        "receiver": "incidentflow",
        "status": status,
        "alerts": [body],
        "groupLabels": {"alertname": alert.name},
        "commonLabels": labels,
        "commonAnnotations": body["annotations"],
        "externalURL": "http://alertmanager-a:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.name}"}}',
        "truncatedAlerts": 0,
    }, fp


def write(spec: Spec) -> Path:
    """Write one bundle directory and return it."""
    rnd = random.Random(spec.name)
    onset = spec.onset
    folder = HERE / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "alerts").mkdir(parents=True)
    manifest = {
        "name": spec.name,
        "format": 1,
        "environment": "production",
        "alert_source": "alertmanager",
        "description": spec.description,
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, width=96))
    (folder / "topology.yaml").write_text(
        yaml.safe_dump({"services": TOPOLOGIES[spec.topology]}, sort_keys=False)
    )
    fps: dict[str, str] = {}
    n = 0
    for alert in spec.alerts:
        payload, fp = _payload(alert, spec, onset, "firing", None)
        fps[f"{alert.name}/{alert.service}"] = fp
        n += 1
        (folder / "alerts" / f"{n:02d}-{alert.name}.json").write_text(json.dumps(payload, indent=2))
        if alert.flapping:
            ends = onset + timedelta(seconds=alert.delay_s + 90)
            resolved, _ = _payload(alert, spec, onset, "resolved", ends)
            n += 1
            (folder / "alerts" / f"{n:02d}-{alert.name}-resolved.json").write_text(
                json.dumps(resolved, indent=2)
            )
    metrics = {"series": _series(spec, rnd, onset)}
    (folder / "metrics.json").write_text(json.dumps(metrics, separators=(",", ":")))
    logs = _logs(spec, rnd, onset)
    (folder / "logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in logs))
    spans = _spans(spec, rnd, onset)
    if spans:
        (folder / "spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    changes = [
        {
            "id": c.id,
            "service": c.service,
            "kind": c.kind,
            "at": _stamp(onset - timedelta(minutes=c.minutes_before)),
            "before": c.before,
            "after": c.after,
            "author": c.author,
            "description": c.description,
        }
        for c in spec.changes
    ]
    (folder / "changes.yaml").write_text(yaml.safe_dump({"changes": changes}, sort_keys=False))
    if spec.capacity is not None:
        (folder / "capacity.yaml").write_text(yaml.safe_dump(spec.capacity, sort_keys=False))
    if spec.runbooks:
        (folder / "runbooks").mkdir()
        for name, (alerts, services, body) in spec.runbooks.items():
            front = yaml.safe_dump(
                {"title": name.replace("-", " "), "alerts": alerts, "services": services},
                sort_keys=False,
            )
            (folder / "runbooks" / f"{name}.md").write_text(f"---\n{front}---\n{body}\n")
    incidents = []
    for inc in spec.expected:
        incidents.append(
            {
                "alertnames": sorted({a.split("/")[0] for a in inc.alerts}),
                "fingerprints": [fps[a] for a in inc.alerts],
                "services": sorted({a.split("/")[1] for a in inc.alerts}),
                "origin_service": inc.origin,
                "root_cause": {
                    "service": inc.root,
                    "fault_type": inc.fault_type,
                    **({"change_id": inc.change_id} if inc.change_id else {}),
                    **({"also": inc.also} if inc.also else {}),
                },
                "accepted_actions": inc.accepted,
            }
        )
    expected = {"incidents": incidents, "unrelated_alertnames": spec.unrelated}
    (folder / "expected.yaml").write_text(yaml.safe_dump(expected, sort_keys=False))
    return folder


def main(argv: list[str]) -> int:
    """Write the named bundles, or all of them."""
    chosen = [s for s in SPECS if not argv or s.name in argv]
    for spec in chosen:
        print(write(spec).relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
