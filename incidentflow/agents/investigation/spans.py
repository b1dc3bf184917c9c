"""Span attribution: which service's own spans fail, and whose own time grew, in bad traces.

Traces that start before the cut are the baseline. In the incident window, for each failing
trace the deepest erroring span names a suspect (its callers only relay the error); for slow
traces, each service's self time (its spans' durations minus their children's) is compared
with the baseline, and the client-side gap of a call (caller waits, callee did not work)
points at the network to the callee.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from incidentflow.agents.investigation.signals import Window
from incidentflow.evidence import SpanRecord, SpanStatus
from incidentflow.models import Evidence, EvidenceKind

# A trace is slow when its root lasts this many times the baseline median root duration.
SLOW_FACTOR = 2.0
# Own-time growth must be at least this share of the slow traces' extra time to blame a service.
MIN_SHARE = 0.25
MIN_TRACES = 3


@dataclass
class SpanFindings:
    """Per-service verdicts from the traces, each with its evidence."""

    deepest_errors: dict[str, tuple[float, Evidence]] = field(default_factory=dict)
    self_time: dict[str, tuple[float, Evidence]] = field(default_factory=dict)
    network: dict[str, tuple[float, Evidence]] = field(default_factory=dict)


def _traces(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    out: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        out[span.trace_id].append(span)
    return out


def _root(trace: list[SpanRecord]) -> SpanRecord:
    ids = {s.span_id for s in trace}
    roots = [s for s in trace if s.parent_id is None or s.parent_id not in ids]
    return min(roots or trace, key=lambda s: (s.start, s.span_id))


def _depths(trace: list[SpanRecord]) -> dict[str, int]:
    by_id = {s.span_id: s for s in trace}
    depth: dict[str, int] = {}
    for span in trace:
        d, cur, seen = 0, span, set()
        while cur.parent_id in by_id and cur.span_id not in seen:
            seen.add(cur.span_id)
            cur = by_id[cur.parent_id]
            d += 1
        depth[span.span_id] = d
    return depth


def _self_times(trace: list[SpanRecord]) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Own seconds per service, and client-side gap seconds per (caller, callee) call."""
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in trace:
        if span.parent_id:
            children[span.parent_id].append(span)
    own: dict[str, float] = defaultdict(float)
    gaps: dict[tuple[str, str], float] = defaultdict(float)
    for span in trace:
        kids = children.get(span.span_id, [])
        busy = sum(k.seconds for k in kids)
        remote = [k for k in kids if k.service != span.service]
        if len(kids) == 1 and remote and span.attributes.get("span.kind") == "client":
            # A client span wrapping the callee's server span: the difference is the wire.
            gaps[(span.service, remote[0].service)] += max(0.0, span.seconds - busy)
            continue
        own[span.service] += max(0.0, span.seconds - busy)
    return own, gaps


def attribute(spans: list[SpanRecord], window: Window, source: str) -> SpanFindings:
    """Score services from the traces around the incident (see the module docstring)."""
    found = SpanFindings()
    traces = _traces(spans)
    base = [t for t in traces.values() if _root(t).start < window.cut]
    after = [t for t in traces.values() if _root(t).start >= window.cut]
    if not after:
        return found
    query_base = f"traces between {window.start.isoformat()} and {window.end.isoformat()}"

    failing = [t for t in after if any(s.status is SpanStatus.ERROR for s in t)]
    deepest: Counter[str] = Counter()
    sample: dict[str, SpanRecord] = {}
    for trace in failing:
        depth = _depths(trace)
        errs = [s for s in trace if s.status is SpanStatus.ERROR]
        worst = max(errs, key=lambda s: (depth[s.span_id], s.service))
        deepest[worst.service] += 1
        sample.setdefault(worst.service, worst)
    if len(failing) >= MIN_TRACES:
        for svc, n in deepest.most_common(3):
            share = n / len(failing)
            span = sample[svc]
            found.deepest_errors[svc] = (
                share,
                Evidence(
                    id=f"ev-trace-{svc}-errors",
                    kind=EvidenceKind.TRACE,
                    source=source,
                    service=svc,
                    query=f'{query_base} | status=error | deepest error span service="{svc}"',
                    start=window.start,
                    end=window.end,
                    finding=(
                        f"{svc} {span.operation} is the deepest erroring span in {n} of "
                        f"{len(failing)} failing traces (e.g. trace {span.trace_id})"
                    ),
                    link=span.link,
                    weight=round(min(0.9, 0.4 + 0.5 * share), 2),
                    attributes={"traces": str(len(failing)), "deepest": str(n)},
                ),
            )

    base_roots = [_root(t).seconds for t in base]
    if len(base_roots) < MIN_TRACES:
        return found
    median = statistics.median(base_roots)
    slow = [t for t in after if _root(t).seconds > SLOW_FACTOR * max(median, 1e-6)]
    if len(slow) < MIN_TRACES:
        return found
    base_own, base_gap = _mean_times(base)
    slow_own, slow_gap = _mean_times(slow)
    extra = statistics.fmean(_root(t).seconds for t in slow) - median
    if extra <= 0:
        return found
    for svc, secs in slow_own.items():
        grew = secs - base_own.get(svc, 0.0)
        if grew / extra >= MIN_SHARE:
            found.self_time[svc] = (
                grew / extra,
                _time_evidence(svc, svc, base_own.get(svc, 0.0), secs, len(slow), window, source),
            )
    for (caller, callee), secs in slow_gap.items():
        grew = secs - base_gap.get((caller, callee), 0.0)
        if grew / extra >= MIN_SHARE:
            found.network[callee] = (
                grew / extra,
                _time_evidence(
                    callee,
                    f"{caller}->{callee}",
                    base_gap.get((caller, callee), 0.0),
                    secs,
                    len(slow),
                    window,
                    source,
                ),
            )
    return found


def _mean_times(
    traces: list[list[SpanRecord]],
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    own_sum: dict[str, float] = defaultdict(float)
    gap_sum: dict[tuple[str, str], float] = defaultdict(float)
    for trace in traces:
        own, gaps = _self_times(trace)
        for k, v in own.items():
            own_sum[k] += v
        for g, v in gaps.items():
            gap_sum[g] += v
    n = max(len(traces), 1)
    return {k: v / n for k, v in own_sum.items()}, {k: v / n for k, v in gap_sum.items()}


def _time_evidence(
    service: str, what: str, before: float, after: float, n: int, window: Window, source: str
) -> Evidence:
    network = "->" in what
    label = f"time on the wire {what}" if network else f"{what} own time (excluding its callees)"
    return Evidence(
        id=f"ev-trace-{what.replace('->', '-to-')}-{'gap' if network else 'selftime'}",
        kind=EvidenceKind.TRACE,
        source=source,
        service=service,
        query=f'traces | root duration > {SLOW_FACTOR}x baseline median | self_time("{what}")',
        start=window.start,
        end=window.end,
        finding=(
            f"{label} grew from {before * 1000:.0f} ms to {after * 1000:.0f} ms per trace "
            f"in {n} slow traces"
        ),
        link=None,
        weight=0.6,
        attributes={"baseline_ms": f"{before * 1000:.0f}", "incident_ms": f"{after * 1000:.0f}"},
    )
