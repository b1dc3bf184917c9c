"""Turn scored candidates into what a person reads: ranked hypotheses citing their evidence,
the one-line reason each won or lost, and reasoned rejections (split from `scoring`, which
decides; this module explains)."""

from __future__ import annotations

import math

from incidentflow.agents.common import ago, hhmm
from incidentflow.agents.investigation.gather import HostFinding
from incidentflow.agents.investigation.scoring import (
    MAX_CITED,
    MAX_CONTRADICTING,
    Candidate,
    fault_type,
)
from incidentflow.evidence import ChangeKind
from incidentflow.models import Hypothesis, RejectedHypothesis


def why(
    cand: Candidate, share: float, top: Candidate | None, second: Candidate | None = None
) -> str:
    """One line: what it rests on, and why it ranks where it does."""
    parts = [
        (name, value)
        for name, value in (
            ("change", cand.score if cand.recent_change() else 0.0),
            ("metrics", cand.metric_strength),
            ("traces", cand.trace_strength),
            ("logs", cand.log_strength),
            ("callers wait on it", cand.wait_strength),
            ("it waits where others do not", cand.outbound_strength),
            ("errors and blame", 0.0 if cand.recent_change() else cand.score),
        )
        if value > 0
    ]
    basis = ", ".join(f"{n} {v:.2f}" for n, v in sorted(parts, key=lambda p: -p[1])[:3])
    if top is None or top is cand:
        if second is not None and math.isclose(cand.rank_mass, second.rank_mass, rel_tol=1e-6):
            return (
                f"tied with {second.service} ({share:.0%} each; the evidence cannot tell them "
                f"apart); own evidence: {basis}"
            )
        return f"most of the propagation walk ends here ({share:.0%}); own evidence: {basis}"
    if math.isclose(cand.rank_mass, top.rank_mass, rel_tol=1e-6):
        # Listed second only because one must be: the evidence cannot tell them apart.
        return f"tied with {top.service} ({share:.0%} each); own evidence: {basis or 'weak'}"
    return (
        f"less of the walk ends here ({share:.0%}) than at {top.service}; "
        f"own evidence: {basis or 'weak'}"
    )


def victim_why(cand: Candidate) -> str:
    """Why a victim ranks last: the dependency its failure follows."""
    blamed = any(f.points_to == cand.explained_by for f in cand.logs)
    if cand.anomaly == 0:
        return (
            f"ranked after every service with evidence of its own: it only waits longer on "
            f"{cand.explained_by}, as {cand.explained_by}'s other callers do"
        )
    how = "its errors blame" if blamed else "it follows"
    return (
        f"ranked after every service with evidence of its own: {how} {cand.explained_by}, "
        f"which explains its failure (anomaly {cand.anomaly:.2f})"
    )


def uncounted_why(cand: Candidate) -> str:
    """Why a service whose only change the scores do not count ranks after the scored ones."""
    what = ", ".join(sorted({m.signal for m in cand.jumps}))
    return (
        f"ranked after every service with scored evidence: only its {what} moved, which the "
        "engine counts for the services it calls, and it calls none of the candidates"
    )


def hypothesis(
    cand: Candidate, confidence: float, *, why: str = "", share: float = 0.0, path: list[str]
) -> Hypothesis:
    """The hypothesis a scored candidate stands for, citing what supports it."""
    kind = fault_type(cand)
    change = cand.recent_change()
    # What it rests on, strongest first, a bounded few (the artifact keeps all it cites).
    supporting = list(
        dict.fromkeys(
            [
                *([change.evidence.id] if change else []),
                *(f.evidence.id for f in cand.own_logs),
                *(m.evidence.id for m in sorted(cand.jumps, key=lambda m: -abs(m.z))),
                *(t[1].id for t in cand.trace_items),
                *(e.id for _, e in sorted(cand.shifts, key=lambda s: -s[0].z)),
                *(f.evidence.id for f in cand.blamed_by),
                *(m.evidence.id for _, m in sorted(cand.waited_on, key=lambda w: -abs(w[1].z))),
            ]
        )
    )[:MAX_CITED]
    # The flat series that speak against it, most watched first; a few make the point.
    contradicting = [m.evidence.id for m in cand.metrics if not m.jumped][:MAX_CONTRADICTING]
    symptom = cand.own_logs[0].sample.message if cand.own_logs else None
    jump = cand.first_jump
    if change is not None:
        c = change.change
        cause = (
            f"{c.kind.value} of {cand.service} {c.before} -> {c.after} at {hhmm(c.at)} "
            f"({ago(change.lead)} before the first alert) broke {cand.service}"
        )
    elif cand.explained_by:
        cause = f"{cand.service} fails because its dependency {cand.explained_by} does"
    else:
        cause = f"{cand.service} is failing on its own ({kind.value.replace('_', ' ')})"
    if symptom:
        cause += f": {symptom}"
    elif jump is not None:
        cause += f": {jump.evidence.finding}"
    elif cand.trace_items:
        cause += f": {cand.trace_items[0][1].finding}"
    elif cand.shifts:
        cause += f": {max(cand.shifts, key=lambda s: s[0].z)[1].finding}"
    return Hypothesis(
        cause=cause,
        service=cand.service,
        fault_type=kind,
        confidence=confidence,
        evidence_ids=supporting,
        contradicting_ids=contradicting,
        change_id=change.change.id if change else None,
        why=why,
        anomaly=min(1.0, cand.anomaly),
        rank_share=round(min(1.0, share), 4),
        path=path,
    )


def rejections(cand: Candidate) -> list[RejectedHypothesis]:
    """Why this candidate is not the cause, one entry per suspect thing about it."""
    out: list[RejectedHypothesis] = []
    flat = [m for m in cand.metrics if not m.jumped]
    flat_note = (
        f"its {flat[0].series.name} stayed at baseline (z={flat[0].z:.1f})"
        if flat
        # No series (none configured, none with enough history) is no data, not "no change".
        else "no metric data was available for it"
    )
    for ch in cand.changes:
        c = ch.change
        when = f"{c.kind.value}ed" if c.kind is ChangeKind.DEPLOY else "changed"
        if cand.explained_by:
            why = (
                f"{when} {ago(ch.lead)} before onset, but it fails because {cand.explained_by} does"
            )
        elif not cand.implicated:
            why = f"{when} {ago(ch.lead)} before onset; {flat_note} and it logged no new errors"
        else:
            why = f"{when} {ago(ch.lead)} before onset: too long before to explain the onset"
        out.append(
            RejectedHypothesis(
                cause=f"{c.kind.value} of {cand.service} {c.before} -> {c.after}",
                service=cand.service,
                reason=why,
                evidence_ids=[ch.evidence.id, *(m.evidence.id for m in flat[:1])],
            )
        )
    if cand.explained_by:
        blame = [f for f in cand.logs if f.points_to == cand.explained_by]
        detail = (
            f"{blame[0].count} of its error lines blame {cand.explained_by}"
            if blame
            else f"it only waits longer on {cand.explained_by}, as its other callers do"
            if cand.anomaly == 0
            else f"{cand.explained_by} started failing first"
        )
        out.append(
            RejectedHypothesis(
                cause=f"{cand.service} itself is broken",
                service=cand.service,
                reason=f"slow because its dependency {cand.explained_by} is: {detail}",
                evidence_ids=[
                    *(f.evidence.id for f in blame),
                    *(m.evidence.id for m in cand.jumps[:1]),
                ],
            )
        )
    elif not cand.changes and not cand.failing and (cand.alerting or cand.under_origin):
        out.append(
            RejectedHypothesis(
                cause=f"{cand.service} is failing",
                service=cand.service,
                reason=f"no recent change, no new error logs, and {flat_note}",
                evidence_ids=[m.evidence.id for m in flat[:1]],
            )
        )
    return out


def host_rejections(
    hosts: list[HostFinding], candidates: dict[str, Candidate]
) -> list[RejectedHypothesis]:
    """A busy host is reported, not ranked: one entry per candidate without evidence of its
    own on a host whose series moved, saying that the host's load is not its evidence. (A
    candidate with its own evidence is weighed on that; a rejection would contradict it.)"""
    by_host: dict[str, list[HostFinding]] = {}
    for one in hosts:
        by_host.setdefault(one.host, []).append(one)
    out: list[RejectedHypothesis] = []
    for host, found in sorted(by_host.items()):
        names = ", ".join(f.name for f in found)
        on_it = found[0].services
        for svc in (s for s in on_it if s in candidates and candidates[s].anomaly == 0):
            others = [s for s in on_it if s != svc]
            on = f"host {host}" + (f" (shared with {', '.join(others)})" if others else "")
            # No series of its own is no data, not "no change".
            own = (
                "it has no metric data of its own to tell"
                if not candidates[svc].metrics
                else "none of its own series moved, so the host's load is likely not its doing"
            )
            out.append(
                RejectedHypothesis(
                    cause=f"{svc} is overloaded, as the load on its {on} rose",
                    service=svc,
                    reason=f"{names} of its {on} moved; a host's series are no service's own "
                    f"evidence, and {own}",
                    evidence_ids=[f.evidence.id for f in found],
                )
            )
    return out
