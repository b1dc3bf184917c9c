"""Score each candidate service from its findings; rank hypotheses and explain rejections.

The score adds what an on-call engineer weighs: a change shortly before the onset, new error
signatures in the service's own logs, a metric shift against its own baseline, and whether it
is the deepest failing service. Errors that blame a failing dependency point away from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from incidentflow.agents.common import ago, hhmm
from incidentflow.agents.investigation.signals import ChangeFinding, LogFinding, MetricFinding
from incidentflow.evidence import ChangeKind
from incidentflow.models import FaultType, Hypothesis, RejectedHypothesis

# A change this close before the onset is a prime suspect; older ones need more to convict.
RECENT_CHANGE = timedelta(minutes=30)
# A deploy whose service starts failing within this time after it is corroborated.
CHANGE_TO_JUMP = timedelta(minutes=15)
# Scores below this are not worth a person's attention as a hypothesis.
MIN_CONFIDENCE = 0.3
MAX_CONFIDENCE = 0.95  # rules never claim certainty
_RESOURCE = re.compile(
    r"out of memory|OOM|no space left|too many connections|pool exhausted|disk full",
    re.IGNORECASE,
)


@dataclass
class Candidate:
    """Everything found about one service; scoring fills in the verdict."""

    service: str
    depth: int  # 0 = an incident service; n = n hops below one
    alerting: bool
    calls: frozenset[str] = frozenset()  # candidates it depends on, directly or not
    under_origin: bool = False  # a direct dependency of the incident's origin
    changes: list[ChangeFinding] = field(default_factory=list)
    metrics: list[MetricFinding] = field(default_factory=list)
    logs: list[LogFinding] = field(default_factory=list)
    blamed_by: list[LogFinding] = field(default_factory=list)  # others' logs naming it
    score: float = 0.0
    explained_by: str | None = None

    @property
    def own_logs(self) -> list[LogFinding]:
        return [f for f in self.logs if f.points_to is None]

    @property
    def jumps(self) -> list[MetricFinding]:
        return [m for m in self.metrics if m.jumped]

    @property
    def failing(self) -> bool:
        return bool(self.jumps or self.own_logs)

    @property
    def first_jump(self) -> MetricFinding | None:
        timed = [m for m in self.jumps if m.jump_at is not None]
        return min(timed, key=lambda m: (m.jump_at, m.series.id), default=None)

    def recent_change(self) -> ChangeFinding | None:
        """The latest change within RECENT_CHANGE before onset, if any."""
        recent = [c for c in self.changes if timedelta(0) <= c.lead <= RECENT_CHANGE]
        return min(recent, key=lambda c: c.lead, default=None)


def score(cand: Candidate, candidates: dict[str, Candidate], origin: str | None) -> None:
    """Fill in `cand.score` and `cand.explained_by`."""
    total = 0.0
    change = cand.recent_change()
    if change is not None and cand.failing:
        total += 0.35 - 0.15 * (change.lead / RECENT_CHANGE)
        if _corroborates(change, cand):
            total += 0.1
    jumps = cand.jumps
    if jumps:
        total += 0.25 * min(1.0, max(m.z for m in jumps) / 8)
    if cand.own_logs:
        total += 0.2
    if cand.failing and cand.blamed_by:
        total += 0.05
    failing_deps = [c for c in candidates.values() if c.service in cand.calls and c.failing]
    if cand.failing and not failing_deps and (cand.service == origin or cand.blamed_by):
        total += 0.1  # the deepest failing service: nothing below it explains it
    blaming = [f for f in cand.logs if f.points_to]
    if failing_deps:
        blamed = {f.points_to for f in blaming}
        first = cand.first_jump
        for dep in failing_deps:
            dep_first = dep.first_jump
            earlier = (
                first is not None
                and dep_first is not None
                and first.jump_at is not None
                and dep_first.jump_at is not None
                and dep_first.jump_at <= first.jump_at
            )
            if dep.service in blamed or earlier:
                cand.explained_by = dep.service
                total -= 0.3
                break
    cand.score = round(max(0.0, min(MAX_CONFIDENCE, total)), 2)


def _corroborates(change: ChangeFinding, cand: Candidate) -> bool:
    """The service started failing soon after the change, or its errors name the new version."""
    first = cand.first_jump
    if first is not None and first.jump_at is not None:
        gap = first.jump_at - change.change.at
        if timedelta(0) <= gap <= CHANGE_TO_JUMP:
            return True
    after = change.change.after
    return any(after in f.versions or after in f.sample.message for f in cand.own_logs)


def fault_type(cand: Candidate) -> FaultType:
    """What kind of fault the findings describe."""
    change = cand.recent_change()
    if change is not None:
        if change.change.kind is ChangeKind.DEPLOY:
            return FaultType.BAD_DEPLOY
        return FaultType.CONFIG_CHANGE
    if any(_RESOURCE.search(f.sample.message) for f in cand.own_logs):
        return FaultType.RESOURCE_EXHAUSTION
    if cand.own_logs:
        return FaultType.CODE_EXCEPTION
    return FaultType.UNKNOWN


def hypothesis(cand: Candidate) -> Hypothesis:
    """The hypothesis a scored candidate stands for, citing what supports it."""
    kind = fault_type(cand)
    change = cand.recent_change()
    supporting = [
        *([change.evidence.id] if change else []),
        *(f.evidence.id for f in cand.own_logs),
        *(m.evidence.id for m in cand.jumps),
        *(f.evidence.id for f in cand.blamed_by),
    ]
    contradicting = [m.evidence.id for m in cand.metrics if not m.jumped]
    symptom = cand.own_logs[0].sample.message if cand.own_logs else None
    jump = cand.first_jump
    if change is not None:
        c = change.change
        cause = (
            f"{c.kind.value} of {cand.service} {c.before} -> {c.after} at {hhmm(c.at)} "
            f"({ago(change.lead)} before the first alert) broke {cand.service}"
        )
    else:
        cause = f"{cand.service} is failing on its own ({kind.value.replace('_', ' ')})"
    if symptom:
        cause += f": {symptom}"
    elif jump is not None:
        cause += f": {jump.evidence.finding}"
    return Hypothesis(
        cause=cause,
        service=cand.service,
        fault_type=kind,
        confidence=cand.score,
        evidence_ids=supporting,
        contradicting_ids=contradicting,
        change_id=change.change.id if change else None,
    )


def rejections(cand: Candidate) -> list[RejectedHypothesis]:
    """Why this candidate is not the cause, one entry per suspect thing about it."""
    out: list[RejectedHypothesis] = []
    flat = [m for m in cand.metrics if not m.jumped]
    flat_note = (
        f"its {flat[0].series.name} stayed at baseline (z={flat[0].z:.1f})"
        if flat
        else "no metric of it moved"
    )
    for ch in cand.changes:
        c = ch.change
        when = f"{c.kind.value}ed" if c.kind is ChangeKind.DEPLOY else "changed"
        if cand.explained_by:
            why = (
                f"{when} {ago(ch.lead)} before onset, but it fails because {cand.explained_by} does"
            )
        elif not cand.failing:
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
