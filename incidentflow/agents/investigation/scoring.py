"""Score each candidate service from its findings and name its fault type (`explain` words it).

The score adds what an on-call engineer weighs (each term capped, the sum capped at 0.95):

    change    0.20..0.35  a change in the 30 min before onset, on a service that is failing
                          or that its callers' error logs name (a silent root)
              +0.10       ...corroborated: onset within 15 min of it, or errors name the version
    metrics   0.25 * min(1, z/8) for its strongest change point (errors, latency, saturation...)
    logs      0.20        new or far more frequent templates in its own logs
    blamed    0.05        other services' errors name it (enough to make it a suspect)
    spans     0.25 * share of failing traces whose deepest erroring span is its own
              0.20 * share of slow traces' extra time that is its own (or on the wire to it)
    deepest   0.10        failing, and nothing it calls is failing
    explained -0.30       it fails because a dependency does (it blames it, the dependency's
                          change point came first, or the traces put the errors deeper)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta

from incidentflow.agents.investigation.anomaly import squash
from incidentflow.agents.investigation.signals import ChangeFinding, LogFinding, MetricFinding
from incidentflow.agents.investigation.traces import Shift
from incidentflow.evidence import ChangeKind
from incidentflow.models import Evidence, FaultType

# A change this close before the onset is a prime suspect; older ones need more to convict.
RECENT_CHANGE = timedelta(minutes=30)
# A deploy whose service starts failing within this time after it is corroborated.
CHANGE_TO_JUMP = timedelta(minutes=15)
# Scores below this are not worth a person's attention as a hypothesis.
MIN_CONFIDENCE = 0.3
MAX_CONFIDENCE = 0.95  # rules never claim certainty
MAX_CONTRADICTING = 3
MAX_CITED = 8
_RESOURCE = re.compile(
    r"out of memory|OOM|no space left|too many (open )?(connections|files)|pool exhausted|"
    r"disk full|heap space|memory limit",
    re.IGNORECASE,
)
_EXPIRY = re.compile(
    r"expired|x509|not valid after|certificate has|token expir|licen[cs]e expir", re.IGNORECASE
)
_NETWORK = re.compile(
    r"reset by peer|packet loss|no route to host|i/o timeout|network is unreachable|"
    r"retransmi|broken pipe",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"connection refused|no such host|unavailable|econnrefused|no healthy upstream", re.IGNORECASE
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
    # (share, evidence) from traces: deepest erroring span, own-time growth, wire-time growth
    deepest_error: tuple[float, Evidence] | None = None
    self_time: tuple[float, Evidence] | None = None
    network: tuple[float, Evidence] | None = None
    score: float = 0.0
    explained_by: str | None = None
    callers: frozenset[str] = frozenset()  # candidates that call it directly
    # (caller, its client-latency finding): callers that wait longer on their calls
    waited_on: list[tuple[str, MetricFinding]] = field(default_factory=list)
    # trace shifts found without span status, each with its evidence
    shifts: list[tuple[Shift, Evidence]] = field(default_factory=list)
    anomaly: float = 0.0  # all modalities combined, 0..1 (see `combine`)
    weight: float = 0.0  # the same, unbounded: -log(1 - anomaly)
    rank_mass: float = 0.0  # stationary mass of the propagation walk
    # share of its slower outbound calls that its callees' other callers do not see (0..1)
    outbound_own: float = 0.0
    # availability findings of its direct callers that fell part way (their requests fail)
    callers_erring: list[MetricFinding] = field(default_factory=list)

    @property
    def own_logs(self) -> list[LogFinding]:
        return [f for f in self.logs if f.points_to is None]

    @property
    def jumps(self) -> list[MetricFinding]:
        return [m for m in self.metrics if m.jumped]

    @property
    def trace_items(self) -> list[tuple[float, Evidence]]:
        return [t for t in (self.deepest_error, self.self_time, self.network) if t is not None]

    @property
    def failing(self) -> bool:
        return bool(self.jumps or self.own_logs or self.trace_items or self.shifts)

    @property
    def implicated(self) -> bool:
        """Failing by its own evidence, or named as the failing peer by the error logs of
        services that call it: a silent root (a database, a queue) raises no alert and may
        report nothing, but its callers say who failed them."""
        return self.failing or bool(self.blamed_by)

    @property
    def metric_strength(self) -> float:
        """Its own series (time spent waiting on callees is theirs, see `wait_strength`)."""
        return max((squash(m.z) for m in self.jumps if m.signal != "client_latency"), default=0.0)

    @property
    def wait_strength(self) -> float:
        """Its callers wait longer on their calls: strongest caller, times the share of its
        callers that do (a callee that every caller waits on is more suspect than one of
        many callees of a single slow caller)."""
        if not self.waited_on or not self.callers:
            return 0.0
        share = len({c for c, _ in self.waited_on}) / len(self.callers)
        return max(squash(m.z) for _, m in self.waited_on) * share

    @property
    def outbound_strength(self) -> float:
        """It waits longer on its callees, and their other callers do not: the extra time is
        on its own side of the wire (network tomography's shared endpoint: the endpoint common
        to all the slow edges is the one to blame)."""
        waits = [squash(m.z) for m in self.jumps if m.signal == "client_latency"]
        return max(waits, default=0.0) * self.outbound_own

    @property
    def log_strength(self) -> float:
        return max((squash(f.z) for f in self.own_logs), default=0.0)

    @property
    def trace_strength(self) -> float:
        return max((squash(s.z) for s, _ in self.shifts), default=0.0)

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
    if change is not None and cand.implicated:
        total += 0.35 - 0.15 * (change.lead / RECENT_CHANGE)
        if _corroborates(change, cand):
            total += 0.1
    if cand.blamed_by:
        total += 0.05
    if cand.deepest_error is not None:
        total += 0.25 * cand.deepest_error[0]
    wait = max((t[0] for t in (cand.self_time, cand.network) if t is not None), default=0.0)
    total += 0.2 * min(1.0, wait)
    failing_deps = [c for c in candidates.values() if c.service in cand.calls and c.implicated]
    if cand.implicated and not failing_deps and (cand.service == origin or cand.blamed_by):
        total += 0.1  # the deepest failing service: nothing below it explains it
    blaming = [f for f in cand.logs if f.points_to]
    if failing_deps:
        blamed = {f.points_to for f in blaming}
        first = cand.first_jump
        for dep in failing_deps:
            dep_first = dep.first_jump
            # The dependency moved first, and at least as far: the caller follows it.
            earlier = (
                # A caller whose slower calls its callees' other callers do not share is
                # slow on its own side; a callee's earlier move does not explain that.
                cand.outbound_own <= 0.5
                and first is not None
                and dep_first is not None
                and first.jump_at is not None
                and dep_first.jump_at is not None
                and dep_first.jump_at <= first.jump_at
                and dep.metric_strength >= cand.metric_strength
            )
            deeper = dep.deepest_error is not None and (
                cand.deepest_error is None or dep.deepest_error[0] > cand.deepest_error[0]
            )
            if dep.service in blamed or earlier or deeper:
                cand.explained_by = dep.service
                total -= 0.3
                break
    cand.score = round(max(0.0, min(MAX_CONFIDENCE, total)), 2)


def waits_on(name: str, cand: Candidate, candidates: dict[str, Candidate]) -> str | None:
    """The callee that explains a caller whose only change is waiting longer on its calls
    (its callees' other callers wait too): the most anomalous callee it waits on."""
    if cand.anomaly > 0 or not cand.jumps or cand.explained_by:
        return None
    waited = [c for c in candidates.values() if any(caller == name for caller, _ in c.waited_on)]
    best = max(waited, key=lambda c: c.anomaly, default=None)
    return best.service if best is not None else None


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
    """What kind of fault the findings describe, most specific evidence first: a change, a
    message that names it, a saturated resource or a surge, then the signature of the
    strongest remaining evidence (calls cut short, time on the wire, callers waiting)."""
    change = cand.recent_change()
    if change is not None:
        if change.change.kind is ChangeKind.DEPLOY:
            return FaultType.BAD_DEPLOY
        if change.change.kind is not ChangeKind.INFRA:
            return FaultType.CONFIG_CHANGE
        # An infrastructure change (a network policy, autoscaler bounds, a node pool) is the
        # trigger, not the kind of fault: that is what the rest of the evidence shows.
    texts = [f.sample.message for f in (*cand.own_logs, *cand.blamed_by)]
    signals = {m.signal for m in cand.jumps}
    if any(_EXPIRY.search(t) for t in texts):
        return FaultType.EXPIRY
    own_erring = [
        m for m in cand.jumps if m.signal == "availability" and m.after_mean > 0.1 * m.base_mean
    ]
    resource_logs = any(_RESOURCE.search(f.sample.message) for f in cand.own_logs)
    if (cand.callers_erring or own_erring) and not resource_logs:
        # Its callers' requests fail part way (not all: that is a dependency down): errors
        # coming back from it, whatever else it shows (a failing handler burns CPU too).
        return FaultType.CODE_EXCEPTION
    if resource_logs or "saturation" in signals:
        if "traffic" in signals:
            return FaultType.TRAFFIC_SURGE
        return FaultType.RESOURCE_EXHAUSTION
    if "traffic" in signals:
        return FaultType.TRAFFIC_SURGE
    if cand.network is not None or any(_NETWORK.search(t) for t in texts):
        return FaultType.NETWORK
    # Availability that fell to (nearly) nothing is a service down; one that fell part way
    # is requests failing: errors.
    gone = [m for m in cand.jumps if m.signal == "availability"]
    if any(m.after_mean <= 0.1 * m.base_mean for m in gone) or (
        cand.blamed_by and all(_DOWN.search(f.sample.message) for f in cand.blamed_by)
    ):
        return FaultType.DEPENDENCY_DOWN
    if cand.own_logs or cand.deepest_error is not None or "errors" in signals or gone:
        return FaultType.CODE_EXCEPTION
    strength: dict[FaultType, float] = {}
    for shift, _ in cand.shifts:
        kind = {"wire": FaultType.NETWORK, "calls": FaultType.CODE_EXCEPTION}.get(shift.kind)
        if kind is not None:
            strength[kind] = max(strength.get(kind, 0.0), squash(shift.z))
    own_latency = max((squash(m.z) for m in cand.jumps if m.signal == "latency"), default=0.0)
    if (cand.waited_on or cand.outbound_own) and not own_latency:
        # Callers wait longer on it, or it waits longer on callees nobody else waits on, and
        # its own time did not grow: latency on an edge, not in it.
        strength[FaultType.NETWORK] = max(
            strength.get(FaultType.NETWORK, 0.0), cand.wait_strength, cand.outbound_strength
        )
    if own_latency and not strength:
        # Its own handling got slower with no resource saturated and no time on the wire:
        # its code took a slower path (an exception, a retry, a bad return).
        strength[FaultType.CODE_EXCEPTION] = own_latency
    if strength:
        return max(strength, key=lambda k: (strength[k], k.value))
    return FaultType.UNKNOWN


def combine(cand: Candidate) -> None:
    """One anomaly per candidate: each modality adds when present (a noisy OR).

    `weight` is the same in log space, -log(1 - anomaly): it adds across modalities and does
    not saturate, so a CPU pinned a hundredfold outweighs a latency tripled even where both
    anomalies round to 1. The propagation walks on `weight`.
    """
    strengths = (
        min(cand.score, 0.99),
        cand.metric_strength,
        cand.trace_strength,
        cand.log_strength,
        cand.wait_strength,
        cand.outbound_strength,
    )
    cand.weight = sum(-math.log(1 - s) for s in strengths)
    cand.anomaly = round(1 - math.exp(-cand.weight), 4)


def confidence(cand: Candidate, total_mass: float) -> float:
    """How sure: its share of the walk's mass among the ranked candidates, times how
    anomalous it is itself (a share of nothing is nothing)."""
    if total_mass <= 0:
        return 0.0
    return round(min(MAX_CONFIDENCE, cand.anomaly * cand.rank_mass / total_mass), 2)
