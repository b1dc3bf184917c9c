"""What the traces say without a status code: own time, time on the wire, calls that stopped.

Spans before the onset are the baseline, spans from the onset on the incident. Three
per-service shifts, each a robust standardised deviation (median and IQR of the baseline
samples, as in `anomaly`):

* **own time** per (service, operation): a span's duration minus the time its children
  covered. A service whose own time grew is a suspect; one whose time grew only inside a
  callee is a victim (the "self time versus time in callees" idea behind MicroRank's and
  TraceRCA's latency analysis; Yu et al., WWW 2021; Li et al., IWQoS 2021).
* **time on the wire** per call edge (caller -> callee): a client span whose only child is
  the callee's server span; the difference is the network and the callee's queues. Growth
  here with a normal callee own time points at the network (or the pod's interface) of one
  end; credited to both ends, the service that touches the most grown edges wins.
* **calls that stopped** per (service, operation): the mean number of child spans per
  invocation. A code defect that returns an error early, or throws, cuts the request short:
  its operation calls less than before (and its callers often too; propagation over the
  graph then favours the deepest). Nezha (Yu et al., FSE 2023) observed the same: faulty
  traces get shorter.

No span status is needed; services with too few spans on either side say "no data".
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from incidentflow.agents.investigation.anomaly import ANOMALY_Z, robust_scale, squash
from incidentflow.evidence import SpanRecord
from incidentflow.models import Evidence, EvidenceKind

# Fewer samples than this on either side of the onset are no basis for a shift.
MIN_SPANS = 5


@dataclass(frozen=True)
class Shift:
    """One standardised shift: what moved, from what to what, over how many samples."""

    service: str
    what: str  # "own time of <op>", "wire time <a>-><b>", "calls per <op>"
    kind: str  # own_time | wire | calls
    z: float
    before: float
    after: float
    samples: int
    example_trace: str | None = None


@dataclass
class TraceShifts:
    """Per service, its strongest shifts of each kind (already above `ANOMALY_Z`)."""

    own_time: dict[str, Shift] = field(default_factory=dict)
    wire: dict[str, list[Shift]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, Shift] = field(default_factory=dict)
    spans_before: int = 0
    spans_after: int = 0


def _shift(before: list[float], after: list[float]) -> tuple[float, float, float] | None:
    if len(before) < MIN_SPANS or len(after) < MIN_SPANS:
        return None
    med, scale = robust_scale(before)
    after_med = statistics.median(after)
    return (after_med - med) / scale, med, after_med


def analyse(spans: list[SpanRecord], onset: datetime) -> TraceShifts:
    """Own-time, wire-time and call-count shifts of every service in `spans`."""
    out = TraceShifts()
    service_of = {s.span_id: s.service for s in spans}
    # One pass over the children: their summed duration, count, and the remote callee when
    # a span's only child runs in another service (a client span and its server span).
    busy: dict[str, float] = defaultdict(float)
    kids: dict[str, int] = defaultdict(int)
    remote: dict[str, str] = {}
    seconds = [(s.end - s.start).total_seconds() for s in spans]
    for s, secs in zip(spans, seconds, strict=True):
        parent = s.parent_id
        if parent is None or parent not in service_of:
            continue
        busy[parent] += secs
        kids[parent] += 1
        if s.service != service_of[parent]:
            remote[parent] = s.service
    own: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    wire: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    calls: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    example: dict[tuple[str, str], str] = {}
    for s, secs in zip(spans, seconds, strict=True):
        side = 1 if s.start >= onset else 0
        if side:
            out.spans_after += 1
        else:
            out.spans_before += 1
        key = (s.service, s.operation)
        n = kids.get(s.span_id, 0)
        calls.setdefault(key, ([], []))[side].append(float(n))
        gap = max(0.0, secs - busy.get(s.span_id, 0.0))
        if n == 1 and s.span_id in remote:
            edge = (s.service, remote[s.span_id])
            wire.setdefault(edge, ([], []))[side].append(gap)
            example.setdefault(edge, s.trace_id)
            continue
        own.setdefault(key, ([], []))[side].append(gap)
        example.setdefault(key, s.trace_id)
    for (svc, op), (before, after) in own.items():
        found = _shift(before, after)
        if found and found[0] >= ANOMALY_Z:
            z, b, a = found
            best = out.own_time.get(svc)
            if best is None or z > best.z:
                out.own_time[svc] = Shift(
                    svc, f"own time of {op}", "own_time", z, b, a, len(after), example[(svc, op)]
                )
    for (caller, callee), (before, after) in wire.items():
        found = _shift(before, after)
        if found and found[0] >= ANOMALY_Z:
            z, b, a = found
            shift = Shift(
                callee,
                f"wire time {caller}->{callee}",
                "wire",
                z,
                b,
                a,
                len(after),
                example[(caller, callee)],
            )
            out.wire[callee].append(shift)
            out.wire[caller].append(shift)
    for (svc, op), (before, after) in calls.items():
        if len(before) < MIN_SPANS or len(after) < MIN_SPANS:
            continue
        b, a = statistics.fmean(before), statistics.fmean(after)
        if b <= 0:
            continue
        # Child counts are small integers: the scale is the baseline's own spread, floored
        # at one call in ten invocations.
        spread = max(statistics.pstdev(before) / len(before) ** 0.5, 0.1)
        z = (b - a) / spread
        if z >= ANOMALY_Z and a < b:
            best = out.calls.get(svc)
            if best is None or z > best.z:
                out.calls[svc] = Shift(svc, f"calls per {op}", "calls", z, b, a, len(after))
    return out


def shift_evidence(shift: Shift, *, start: datetime, end: datetime, source: str) -> Evidence:
    """The shift as a cited fact."""
    unit = "" if shift.kind == "calls" else " ms"
    scale = 1.0 if shift.kind == "calls" else 1000.0
    verb = "fell" if shift.after < shift.before else "grew"
    slug = re.sub(r"[^a-z0-9]+", "-", shift.what.lower()).strip("-")[:60]
    return Evidence(
        id=f"ev-trace-{shift.service}-{shift.kind}-{slug}",
        kind=EvidenceKind.TRACE,
        source=source,
        service=shift.service,
        query=f"spans of {shift.service} | {shift.what} | before vs after {start.isoformat()}",
        start=start,
        end=end,
        finding=(
            f"{shift.service}: {shift.what} {verb} from {shift.before * scale:.3g}{unit} "
            f"(baseline median) to {shift.after * scale:.3g}{unit} over {shift.samples} spans: "
            f"{shift.z:.1f} IQR"
            + (f" (e.g. trace {shift.example_trace})" if shift.example_trace else "")
        ),
        weight=round(squash(shift.z), 2),
        attributes={"kind": shift.kind, "z": f"{shift.z:.1f}", "samples": str(shift.samples)},
    )
