"""Agent 3, investigation (rules engine): rank root-cause hypotheses with cited evidence.

Candidates are the incident's services and what they call within N hops. For each, the
evidence source is asked for changes, error logs, metric series and (where it holds them)
traces and runbooks around the onset, reaching back before the first alert for a baseline;
findings become `Evidence` and scores become ranked hypotheses and reasoned rejections (the
formula is in `scoring`). Pure and deterministic: every time comes from the incident's alerts,
never from a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidentflow.agents.common import utc
from incidentflow.agents.investigation import propagation
from incidentflow.agents.investigation.anomaly import MIN_HISTORY, detect_onset
from incidentflow.agents.investigation.scoring import (
    Candidate,
    combine,
    confidence,
    hypothesis,
    rejections,
    score,
    why,
)
from incidentflow.agents.investigation.signals import (
    Window,
    change_finding,
    log_findings,
    metric_finding,
    signal_of,
)
from incidentflow.agents.investigation.spans import attribute
from incidentflow.agents.investigation.traces import Shift, analyse, shift_evidence
from incidentflow.evidence import (
    EvidenceSource,
    LogRecord,
    MetricSeries,
    RunbookSource,
    SpanSource,
)
from incidentflow.models import (
    Evidence,
    EvidenceKind,
    FaultType,
    Hypothesis,
    Incident,
    Investigation,
    InvestigationInput,
    RejectedHypothesis,
    ServiceGraph,
)


@dataclass(frozen=True)
class InvestigationConfig:
    """The time frame and reach of an investigation; settings may shorten it (live tests)."""

    # How far below the incident's services a cause may hide: a dependency's dependency.
    hops: int = 2
    # The baseline before the onset that "normal" is measured against.
    baseline: timedelta = timedelta(minutes=60)
    # The baseline ends this long before the onset: alerts fire minutes after a fault begins.
    pre_onset: timedelta = timedelta(minutes=10)
    # How long after the last alert to keep reading.
    after_last_alert: timedelta = timedelta(minutes=15)
    # Changes are read further back than the baseline, so older ones can be ruled out by name.
    change_lookback: timedelta = timedelta(hours=6)


DEFAULT_CONFIG = InvestigationConfig()
# Budget: the artifact must stay small however noisy the sources are.
MAX_CHANGES_PER_SERVICE = 3
MAX_EVIDENCE = 60
MAX_HYPOTHESES = 5
MAX_RUNBOOKS = 2
# Findings are read by people; a pathological log line must not blow the artifact budget.
MAX_FINDING_CHARS = 600

__all__ = ["DEFAULT_CONFIG", "InvestigationConfig", "investigate", "own_series", "settle_cut"]


def investigate(
    inp: InvestigationInput,
    graph: ServiceGraph,
    evidence: EvidenceSource,
    config: InvestigationConfig = DEFAULT_CONFIG,
) -> Investigation:
    """Rank hypotheses for `inp.incident` from what `evidence` holds about its services."""
    incident = inp.incident
    source = evidence.aligned(incident.alerts)
    window = window_of(incident, config)
    # One adjacency map: ServiceGraph lookups scan its list, too slow for large graphs.
    calls = {s.name: list(s.depends_on) for s in graph.services}
    candidates = _candidates(incident, calls, config.hops)
    names = list(candidates)

    for change in source.changes(
        services=names, start=window.onset - config.change_lookback, end=window.onset
    ):
        cand = candidates[change.service]
        if len(cand.changes) < MAX_CHANGES_PER_SERVICE:
            cand.changes.append(change_finding(change, window, source.name))
    series = own_series(source.metrics(services=names, start=window.start, end=window.end))
    window = settle_cut(window, series)
    for one in series:
        found = metric_finding(one, window, source.name)
        if found is not None:
            candidates[one.service].metrics.append(found)
    for name, cand in candidates.items():
        for m in cand.jumps:
            if m.signal == "client_latency":
                for dep in calls.get(name, []):
                    if dep in candidates:
                        candidates[dep].waited_on.append((name, m))
    by_service: dict[str, list[LogRecord]] = {}
    for record in source.logs(services=names, start=window.start, end=window.end):
        by_service.setdefault(record.service, []).append(record)
    for name, cand in candidates.items():
        own = by_service.get(name, [])
        cand.logs = log_findings(name, own, calls.get(name, []), window, source.name)
    for cand in candidates.values():
        for log in cand.logs:
            if log.points_to in candidates:
                candidates[log.points_to].blamed_by.append(log)
    if isinstance(source, SpanSource):
        _read_traces(source, candidates, window)

    for cand in candidates.values():
        score(cand, candidates, incident.origin_service)
        combine(cand)
    mass = propagation.rank(
        {n: c.weight for n, c in candidates.items()},
        {n: calls.get(n, []) for n in candidates},
        victims=frozenset(n for n, c in candidates.items() if c.explained_by),
    )
    for name, cand in candidates.items():
        cand.rank_mass = mass.get(name, 0.0)
    # A service the evidence shows failing because of a dependency is rejected with that
    # reason (see `rejections`), never offered as a cause.
    ordered = sorted(
        (c for c in candidates.values() if c.anomaly > 0 and not c.explained_by),
        key=lambda c: (-c.rank_mass, -c.anomaly, c.depth),
    )
    ranked = ordered[:MAX_HYPOTHESES]
    total_mass = sum(c.rank_mass for c in ordered)
    top = ranked[0] if ranked else None
    hypotheses = [
        hypothesis(
            c,
            confidence(c, total_mass),
            why=why(
                c,
                c.rank_mass / total_mass if total_mass else 0.0,
                top,
                ranked[1] if len(ranked) > 1 else None,
            ),
            share=c.rank_mass / total_mass if total_mass else 0.0,
            path=_path(incident, calls, c.service),
        )
        for c in ranked
    ]
    rejected = [r for c in candidates.values() if c not in ranked for r in rejections(c)]
    items = _evidence(candidates, hypotheses, rejected)
    if not hypotheses and incident.origin_service:
        fallback, topo = _topology_fallback(incident, graph, window)
        hypotheses, items = [fallback], [*items, topo]
    if isinstance(source, RunbookSource) and hypotheses:
        items += _runbooks(source, incident, hypotheses[0].service, window)
    items = [
        e
        if len(e.finding) <= MAX_FINDING_CHARS
        else e.model_copy(update={"finding": e.finding[: MAX_FINDING_CHARS - 1] + "…"})
        for e in items
    ]
    return Investigation(
        incident_id=incident.id,
        hypotheses=hypotheses,
        rejected=rejected,
        evidence=items,
        summary=_summary(hypotheses, rejected, len(candidates)),
    )


def window_of(incident: Incident, config: InvestigationConfig) -> Window:
    """The incident's window: baseline before, the cut, onset at the first alert, the end."""
    starts = [utc(a.starts_at) for a in incident.alerts] or [utc(incident.opened_at)]
    onset = min(starts)
    return Window(
        start=onset - config.baseline,
        cut=onset - config.pre_onset,
        onset=onset,
        end=max(starts) + config.after_last_alert,
    )


def _path(incident: Incident, calls: dict[str, list[str]], service: str) -> list[str]:
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


def _read_traces(source: SpanSource, candidates: dict[str, Candidate], window: Window) -> None:
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


def own_series(series: list[MetricSeries]) -> list[MetricSeries]:
    """Drop series that several services report identically: they describe what those
    services share (the host they run on), not any one of them."""
    seen: dict[tuple[str, tuple[tuple[datetime, float], ...]], set[str]] = {}
    for s in series:
        key = (s.name, tuple((p.at, p.value) for p in s.points))
        seen.setdefault(key, set()).add(s.service)
    return [s for s in series if len(seen[(s.name, tuple((p.at, p.value) for p in s.points))]) == 1]


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
    )
    if found is None:
        return window
    return Window(start=window.start, cut=found, onset=window.onset, end=window.end)


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


def _runbooks(
    source: RunbookSource, incident: Incident, service: str, window: Window
) -> list[Evidence]:
    """Runbooks whose front matter names the incident's alerts or the suspected service."""
    books = source.runbooks(
        alertnames=sorted({a.name for a in incident.alerts}), services=[service]
    )
    return [
        Evidence(
            id=f"ev-runbook-{book.id}",
            kind=EvidenceKind.RUNBOOK,
            source=getattr(source, "name", "runbooks"),
            service=service if service in book.services else None,
            query=f"runbooks matching alerts {sorted(set(book.alerts))} services {book.services}",
            start=window.start,
            end=window.end,
            finding=f"runbook {book.title!r}: {book.body.strip().splitlines()[0][:200]}"
            if book.body.strip()
            else f"runbook {book.title!r}",
            link=book.link,
            weight=0.1,
            attributes={"alerts": ",".join(book.alerts), "services": ",".join(book.services)},
        )
        for book in books[:MAX_RUNBOOKS]
    ]


def _within(
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


def _candidates(incident: Incident, calls: dict[str, list[str]], hops: int) -> dict[str, Candidate]:
    """Incident services first, then what they call, nearest first; names kept stable."""
    depth: dict[str, int] = {}
    for svc in incident.services:
        for name, d in _within(calls, svc, hops).items():
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
        closure = set(_within(calls, name, len(reach), keep=reach)) - {name}
        out[name] = Candidate(
            service=name,
            depth=depth[name],
            alerting=name in alerting,
            calls=frozenset(closure),
            callers=frozenset(callers[name]),
            under_origin=name in origin_deps,
        )
    return out


def _evidence(
    candidates: dict[str, Candidate],
    hypotheses: list[Hypothesis],
    rejected: list[RejectedHypothesis],
) -> list[Evidence]:
    """Every cited item (hypotheses first), then others by weight, within the budget."""
    weights: dict[str, float] = {}
    for cand in candidates.values():
        change = cand.recent_change()
        for ch in cand.changes:
            convicting = change is ch and cand.failing and not cand.explained_by
            weights[ch.evidence.id] = round(0.5 + cand.score / 2, 2) if convicting else 0.0
    pool: dict[str, Evidence] = {}
    for cand in candidates.values():
        items = [
            *(c.evidence for c in cand.changes),
            *(f.evidence for f in cand.logs),
            *(m.evidence for m in cand.metrics),
            *(t[1] for t in cand.trace_items),
            *(e for _, e in cand.shifts),
        ]
        for item in items:
            if item.id in weights:
                item = item.model_copy(update={"weight": weights[item.id]})
            pool[item.id] = item
    cited = [i for h in hypotheses for i in (*h.evidence_ids, *h.contradicting_ids)]
    cited += [i for r in rejected for i in r.evidence_ids]
    order = list(dict.fromkeys(cited))
    # Uncited items that implicate nobody would only pad the artifact.
    rest = sorted(
        (i for i in pool if i not in order and pool[i].weight > 0),
        key=lambda i: (-pool[i].weight, i),
    )
    return [pool[i] for i in [*order, *rest][:MAX_EVIDENCE] if i in pool]


def _topology_fallback(
    incident: Incident, graph: ServiceGraph, window: Window
) -> tuple[Hypothesis, Evidence]:
    """With no telemetry to go on, the origin of the alert cascade is the best guess."""
    origin = incident.origin_service or ""
    callers = sorted({d.service for d in incident.downstream})
    finding = (
        f"{origin} is the deepest alerting service"
        + (f"; {', '.join(callers)} depend on it" if callers else "")
        + "; no change, log or metric evidence was available"
    )
    item = Evidence(
        id=f"ev-topology-{origin}",
        kind=EvidenceKind.TOPOLOGY,
        source="service-graph",
        service=origin,
        query=f'dependents("{origin}")',
        start=window.start,
        end=window.end,
        finding=finding,
        link=service.runbook if (service := graph.get(origin)) else None,
        weight=0.3,
    )
    hyp = Hypothesis(
        cause=f"{origin} is failing and its callers alert because of it: {finding}",
        service=origin,
        fault_type=FaultType.UNKNOWN,
        confidence=0.2,
        evidence_ids=[item.id],
    )
    return hyp, item


def _summary(hypotheses: list[Hypothesis], rejected: list[RejectedHypothesis], n: int) -> str:
    if not hypotheses:
        return f"No hypothesis: {n} candidate services showed no change, error or metric shift."
    top = hypotheses[0]
    text = f"Most likely ({top.confidence:.2f}): {top.cause}. Cites {', '.join(top.evidence_ids)}."
    if rejected:
        ruled = "; ".join(f"{r.service}: {r.reason}" for r in rejected[:4])
        text += f" Ruled out: {ruled}."
    return text
