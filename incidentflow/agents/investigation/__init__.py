"""Agent 3, investigation (rules engine): rank root-cause hypotheses with cited evidence.

Candidates are the incident's services and what they call within N hops (`gather`). For
each, the evidence source is asked for changes, logs, metric series and (where it holds them)
traces and runbooks, reaching back before the first alert for a baseline; where the alerts
give no onset with history before it, the data does (`anomaly`). Each modality scores against
the service's own history (`anomaly`, `traces`, `signals`), the scores combine per candidate
(`scoring`) and flow over the dependency graph (`propagation`, a personalized PageRank) into
ranked hypotheses and reasoned rejections. docs/rca.md lists the methods and every knob.
Pure and deterministic: every time comes from the incident's alerts or the data, never from
a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from incidentflow.agents.common import utc
from incidentflow.agents.investigation import propagation
from incidentflow.agents.investigation.explain import (
    host_rejections,
    hypothesis,
    rejections,
    uncounted_why,
    victim_why,
    why,
)
from incidentflow.agents.investigation.gather import (
    candidates_of,
    host_findings,
    own_series,
    path_to,
    read_traces,
    settle_cut,
)
from incidentflow.agents.investigation.scoring import (
    Candidate,
    combine,
    confidence,
    score,
    waits_on,
)
from incidentflow.agents.investigation.signals import (
    Window,
    change_finding,
    log_findings,
    metric_finding,
)
from incidentflow.evidence import (
    CapacitySource,
    EvidenceSource,
    LogRecord,
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
from incidentflow.sources.capacity import capacity_evidence


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
    candidates = candidates_of(incident, calls, config.hops)
    names = list(candidates)

    for change in source.changes(
        services=names, start=window.onset - config.change_lookback, end=window.onset
    ):
        cand = candidates[change.service]
        if len(cand.changes) < MAX_CHANGES_PER_SERVICE:
            cand.changes.append(change_finding(change, window, source.name))
    every = source.metrics(services=names, start=window.start, end=window.end)
    series = own_series(every)
    # Host series stay out of the onset as well: a host's load may be a neighbour's, and
    # with them in or out the onsets were the same on the Nezha bundles (docs/rca.md).
    window = settle_cut(window, series)
    hosts = host_findings(every, window, source.name)
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
    for name, cand in candidates.items():
        cand.outbound_own = outbound_own(name, cand, calls, candidates)
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
        read_traces(source, candidates, window)

    for name, cand in candidates.items():
        for m in cand.jumps:
            if m.signal == "availability" and m.after_mean > 0.1 * m.base_mean:
                for dep in calls.get(name, []):
                    if dep in candidates:
                        candidates[dep].callers_erring.append(m)
    for cand in candidates.values():
        score(cand, candidates, incident.origin_service)
        combine(cand)
    # A caller whose only change is waiting on a callee (that callee's other callers wait
    # too) is that callee's victim: listed, at confidence 0, never silently dropped.
    for name, cand in candidates.items():
        cand.explained_by = cand.explained_by or waits_on(name, cand, candidates)
    mass = propagation.rank(
        {n: c.weight for n, c in candidates.items()},
        {n: calls.get(n, []) for n in candidates},
        victims=frozenset(n for n, c in candidates.items() if c.explained_by),
    )
    for name, cand in candidates.items():
        cand.rank_mass = mass.get(name, 0.0)
    # A service the evidence shows failing because of a dependency (a victim) ranks after
    # every service with evidence of its own, its reason in `why`, and is also rejected with
    # that reason (see `rejections`): a short list would hide that it was weighed.
    ordered = sorted(
        (c for c in candidates.values() if c.anomaly > 0 and not c.explained_by),
        key=lambda c: (-c.rank_mass, -c.anomaly, c.depth),
    )
    victims = sorted(
        (c for c in candidates.values() if (c.anomaly > 0 or c.jumps) and c.explained_by),
        key=lambda c: (-c.anomaly, c.depth),
    )
    # Evidence the scores do not count (a leaf's own client-side latency) still lists it.
    uncounted = [
        c for c in candidates.values() if c.anomaly == 0 and c.jumps and not c.explained_by
    ]
    ranked = [*ordered, *uncounted, *victims][:MAX_HYPOTHESES]
    total_mass = sum(c.rank_mass for c in ordered)
    top = ranked[0] if ranked else None
    hypotheses = [
        hypothesis(
            c,
            0.0 if c.explained_by else confidence(c, total_mass),
            why=victim_why(c)
            if c.explained_by
            else uncounted_why(c)
            if c in uncounted
            else why(
                c,
                c.rank_mass / total_mass if total_mass else 0.0,
                top,
                ranked[1] if len(ranked) > 1 else None,
            ),
            share=0.0 if c.explained_by else (c.rank_mass / total_mass if total_mass else 0.0),
            path=path_to(incident, calls, c.service),
        )
        for c in ranked
    ]
    rejected = [
        r for c in candidates.values() if c not in ranked or c.explained_by for r in rejections(c)
    ]
    rejected += host_rejections(hosts, candidates)
    items = _evidence(candidates, hypotheses, rejected, [h.evidence for h in hosts])
    if not hypotheses and incident.origin_service:
        fallback, topo = _topology_fallback(incident, graph, window)
        hypotheses, items = [fallback], [*items, topo]
    if isinstance(source, RunbookSource) and hypotheses:
        items += _runbooks(source, incident, hypotheses[0].service, window)
    if isinstance(source, CapacitySource):
        # What the cluster runs (replicas, limits, HPA, nodes): facts the planner acts on.
        items += capacity_evidence(
            source, services=names, start=window.start, end=window.end, name=source.name
        )
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


def outbound_own(
    name: str, cand: Candidate, calls: dict[str, list[str]], candidates: dict[str, Candidate]
) -> float:
    """How much of its longer wait on its callees is its own: per callee, the share of that
    callee's other callers that do not wait longer on it (a callee nobody else calls says
    nothing either way: half), averaged over its callees."""
    if not any(m.signal == "client_latency" for m in cand.jumps):
        return 0.0
    shares: list[float] = []
    for dep in calls.get(name, []):
        if dep not in candidates or dep == name:
            continue
        others = candidates[dep].callers - {name}
        if not others:
            shares.append(0.5)
            continue
        waiting = {c for c, _ in candidates[dep].waited_on} & others
        shares.append(1 - len(waiting) / len(others))
    return sum(shares) / len(shares) if shares else 0.0


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


def _evidence(
    candidates: dict[str, Candidate],
    hypotheses: list[Hypothesis],
    rejected: list[RejectedHypothesis],
    hosts: list[Evidence],
) -> list[Evidence]:
    """Every cited item (hypotheses first), then others by weight, within the budget."""
    weights: dict[str, float] = {}
    for cand in candidates.values():
        change = cand.recent_change()
        for ch in cand.changes:
            convicting = change is ch and cand.implicated and not cand.explained_by
            weights[ch.evidence.id] = round(0.5 + cand.score / 2, 2) if convicting else 0.0
    pool: dict[str, Evidence] = {h.id: h for h in hosts}
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
    # Everything cited stays (citations are bounded per hypothesis); the rest fills the budget.
    return [pool[i] for i in [*order, *rest[: max(0, MAX_EVIDENCE - len(order))]] if i in pool]


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
