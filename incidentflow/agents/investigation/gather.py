"""Gather what the sources hold for an investigation: candidates over the call graph,
the metric series that are each service's own, the onset, and the trace shifts.

Pure and deterministic like the rest of the engine: every time comes from the incident's
alerts or the data, never from a clock.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from incidentflow.agents.investigation.anomaly import MIN_HISTORY, detect_onset
from incidentflow.agents.investigation.scoring import Candidate
from incidentflow.agents.investigation.signals import (
    Window,
    bounded_floor,
    metric_finding,
    signal_of,
)
from incidentflow.agents.investigation.spans import attribute
from incidentflow.agents.investigation.traces import Shift, analyse, shift_evidence
from incidentflow.evidence import MetricSeries, SpanSource
from incidentflow.models import Evidence, Incident


def within(
    calls: dict[str, list[str]], start: str, hops: int, keep: set[str] | None = None
) -> dict[str, int]:
    """Breadth-first down the call graph from `start`: service -> depth, up to `hops`."""
    depth = {start: 0}
    frontier = [start]
    for level in range(1, hops + 1):
        nxt: list[str] = []
        for node in frontier:
            for dep in calls.get(node, []):
                if dep not in depth and (keep is None or dep in keep):
                    depth[dep] = level
                    nxt.append(dep)
        frontier = nxt
        if not frontier:
            break
    return depth


def candidates_of(
    incident: Incident, calls: dict[str, list[str]], hops: int
) -> dict[str, Candidate]:
    """Incident services first, then what they call, nearest first; names kept stable."""
    depth: dict[str, int] = {}
    for svc in incident.services:
        for name, d in within(calls, svc, hops).items():
            depth[name] = min(d, depth.get(name, d))
    alerting = set(incident.services)
    origin_deps = set(calls.get(incident.origin_service or "", []))
    reach = set(depth)
    callers: dict[str, set[str]] = {n: set() for n in reach}
    for name in reach:
        for dep in calls.get(name, []):
            if dep in reach:
                callers[dep].add(name)
    out: dict[str, Candidate] = {}
    for name in sorted(depth, key=lambda n: (depth[n], n)):
        closure = set(within(calls, name, len(reach), keep=reach)) - {name}
        out[name] = Candidate(
            service=name,
            depth=depth[name],
            alerting=name in alerting,
            calls=frozenset(closure),
            callers=frozenset(callers[name]),
            under_origin=name in origin_deps,
        )
    return out


def path_to(incident: Incident, calls: dict[str, list[str]], service: str) -> list[str]:
    """The shortest dependency path from one of the incident's services down to `service`."""
    starts = [s for s in dict.fromkeys([incident.origin_service or "", *incident.services])]
    prev: dict[str, str | None] = {s: None for s in starts if s in calls}
    queue = deque(prev)
    while queue and service not in prev:
        node = queue.popleft()
        for dep in calls.get(node, []):
            if dep not in prev:
                prev[dep] = node
                queue.append(dep)
    if service not in prev:
        return [service]
    path = [service]
    while (up := prev[path[-1]]) is not None:
        path.append(up)
    return path[::-1]


def own_series(series: list[MetricSeries]) -> list[MetricSeries]:
    """The series that are a service's own: host-scoped series (`MetricSeries.host`) describe
    the machine, not the pod; and series that several services report identically describe
    what those services share (an unlabelled host), not any one of them."""
    series = [s for s in series if s.host is None]
    seen: dict[tuple[str, tuple[tuple[datetime, float], ...]], set[str]] = {}
    for s in series:
        key = (s.name, tuple((p.at, p.value) for p in s.points))
        seen.setdefault(key, set()).add(s.service)
    return [s for s in series if len(seen[(s.name, tuple((p.at, p.value) for p in s.points))]) == 1]


@dataclass(frozen=True)
class HostFinding:
    """A host-scoped series that moved: the host's evidence, shared by the services on it."""

    host: str
    name: str
    services: tuple[str, ...]
    evidence: Evidence


def host_findings(series: list[MetricSeries], window: Window, source: str) -> list[HostFinding]:
    """Each host's series that moved after the cut, once per host and metric (every pod on a
    host reports the same values): reported as the host's, weighing for no service."""
    on: dict[str, set[str]] = {}
    first: dict[tuple[str, str], MetricSeries] = {}
    for s in series:
        if s.host is not None:
            on.setdefault(s.host, set()).add(s.service)
            first.setdefault((s.host, s.name), s)
    out: list[HostFinding] = []
    for (host, name), one in sorted(first.items()):
        found = metric_finding(one, window, source)
        if found is None or not found.jumped:
            continue
        item = found.evidence.model_copy(
            update={
                # Dots become dashes: an address in an id would be masked where an LLM
                # reads it (llm/redact.py), and the id it cites would no longer exist.
                "id": f"ev-host-{_slug(host)}-{name}",
                "service": None,
                "query": one.query or f'{name}{{node="{host}"}}',
                "finding": "host " + host + found.evidence.finding.removeprefix(one.service),
                "weight": 0.0,
                "attributes": {**found.evidence.attributes, "scope": "node", "node": host},
            }
        )
        out.append(
            HostFinding(host=host, name=name, services=tuple(sorted(on[host])), evidence=item)
        )
    return out


def _slug(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", host)


def settle_cut(window: Window, series: list[MetricSeries]) -> Window:
    """Keep the alert-derived cut when the series have history before it; else find the
    onset in the data (the alerts were already firing when the data begins)."""
    with_history = sum(
        1 for s in series if sum(1 for p in s.points if p.at < window.cut) >= MIN_HISTORY
    )
    if not series or with_history * 2 >= len(series):
        return window
    found = detect_onset(
        series,
        after=window.start,
        hurts=lambda s: -1 if signal_of(s.name) == "availability" else 1,
        floor=bounded_floor,
    )
    if found is None:
        return window
    return Window(start=window.start, cut=found, onset=window.onset, end=window.end)


def read_traces(source: SpanSource, candidates: dict[str, Candidate], window: Window) -> None:
    """Trace shifts without status (`traces`) and the status-based attribution (`spans`)."""
    name = getattr(source, "name", "traces")
    spans = source.spans(services=list(candidates), start=window.start, end=window.end)
    shifts = analyse(spans, window.cut)
    found = [
        *shifts.own_time.values(),
        *(_wire_summary(svc, wires) for svc, wires in sorted(shifts.wire.items()) if wires),
        *shifts.calls.values(),
    ]
    for shift in found:
        if shift.service in candidates:
            item = shift_evidence(shift, start=window.cut, end=window.end, source=name)
            candidates[shift.service].shifts.append((shift, item))
    traces = attribute(spans, window, name)
    for svc, scored in traces.deepest_errors.items():
        if svc in candidates:
            candidates[svc].deepest_error = scored
    for svc, scored in traces.self_time.items():
        if svc in candidates:
            candidates[svc].self_time = scored
    for svc, scored in traces.network.items():
        if svc in candidates:
            candidates[svc].network = scored


def _wire_summary(service: str, wires: list[Shift]) -> Shift:
    """A service's grown wire times as one shift: the edges touching it, summed."""
    top = max(wires, key=lambda w: (w.z, w.what))
    edges = sorted({w.what.removeprefix("wire time ") for w in wires})
    return Shift(
        service=service,
        what=f"wire time on {len(edges)} call edge(s) touching it: {', '.join(edges[:4])}",
        kind="wire",
        z=sum(w.z for w in wires),
        before=top.before,
        after=top.after,
        samples=sum(w.samples for w in wires),
        example_trace=top.example_trace,
    )
