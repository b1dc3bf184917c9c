"""Score what the pipeline concluded for a bundle against its expected answer.

Alert grouping is scored pairwise over the bundle's alerts: a pair is predicted together when
one incident holds both, expected together when one expected incident lists both. Only fault
cases whose expected incidents all carry grouping truth are scored on it; a control's pairs
are reported apart (it should open nothing). Root cause, fault type and action are scored per
expected incident, against the observed incident that holds most of its alerts: the rank of
the first hypothesis naming an acceptable service gives @1/@3/@5 and the reciprocal rank.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.models import Incident, Investigation, RemediationPlan
from incidentflow.scenario import ExpectedIncident, Scenario


class RankedHypothesis(BaseModel):
    """One hypothesis as the pipeline ranked it, with what it cited."""

    model_config = ConfigDict(frozen=True)

    service: str
    fault_type: str
    confidence: float = 0.0
    evidence_ids: list[str] = Field(default_factory=list)


class Observed(BaseModel):
    """One incident the pipeline opened: what is scored, and what explains the score."""

    model_config = ConfigDict(frozen=True)

    id: str
    fingerprints: list[str]
    hypotheses: list[RankedHypothesis] = Field(description="Ranked, most likely first")
    origin: str | None = None
    action: dict[str, str] | None = None
    plan: str | None = Field(default=None, description="The plan's rationale")
    engine: str | None = Field(default=None, description="Which engine investigated")
    seconds_to_proposal: float | None = None


class ExpectedScore(BaseModel):
    """One expected incident's verdict."""

    root_service: str
    accepted_services: list[str]
    fault_type: str
    source_fault_type: str | None = None
    matched: str | None = Field(default=None, description="Observed incident scored")
    rank: int | None = Field(default=None, description="1-based rank of the right service")
    top: RankedHypothesis | None = None
    fault_type_ok: bool = False
    action_ok: bool | None = Field(default=None, description="None: no accepted action known")
    seconds_to_proposal: float | None = None


class CaseScore(BaseModel):
    """Per-bundle figures; None where the bundle has nothing to score it on."""

    bundle: str
    control: bool
    incidents_opened: int
    pairs: dict[str, int]
    grouping_scored: bool = True
    precision: float | None
    recall: float | None
    f1: float | None
    expected: list[ExpectedScore] = Field(default_factory=list)
    observed: list[Observed] = Field(default_factory=list)
    rc_at_1: list[bool] = Field(default_factory=list)
    rc_at_3: list[bool] = Field(default_factory=list)
    rc_at_5: list[bool] = Field(default_factory=list)
    fault_type_ok: list[bool] = Field(default_factory=list)
    action_ok: list[bool] = Field(
        default_factory=list, description="Only expected incidents with accepted actions"
    )
    seconds_to_proposal: list[float] = Field(default_factory=list)
    detail: list[str] = Field(default_factory=list)
    error: str | None = None
    seconds: float = Field(default=0.0, description="Wall time the case took")
    engines: dict[str, int] = Field(
        default_factory=dict, description="'agent:engine' -> answers (eval --engine llm)"
    )
    fallbacks: list[str] = Field(default_factory=list, description="LLM answers rules replaced")
    llm_calls: int = 0
    llm_tokens: int = 0
    llm_ms: int = 0


def alert_index(scenario: Scenario) -> dict[str, tuple[str, str]]:
    """Fingerprint -> (alertname, service) for every alert the bundle delivers."""
    out: dict[str, tuple[str, str]] = {}
    for payload in scenario.alert_payloads:
        for alert in payload.get("alerts", []):
            labels = alert.get("labels", {})
            out[str(alert.get("fingerprint", ""))] = (
                str(labels.get("alertname", "")),
                str(labels.get("service", "")),
            )
    return out


def expected_fingerprints(inc: ExpectedIncident, index: dict[str, tuple[str, str]]) -> set[str]:
    """The expected incident's alerts: listed fingerprints, else matched by name and service."""
    if inc.fingerprints:
        return set(inc.fingerprints)
    # Without a `service` label (other conventions name it), the alert name must do.
    return {
        fp
        for fp, (name, svc) in index.items()
        if name in inc.alertnames and (not svc or svc in inc.services)
    }


def _pairs(groups: list[set[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in combinations(sorted(g), 2)}  # type: ignore[misc]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _action_ok(action: dict[str, str] | None, accepted: list[Any]) -> bool:
    # kind `none`: no automatic action (escalate to a person) is a right answer here.
    if action is None:
        return any(ok.kind == "none" for ok in accepted)
    for ok in accepted:
        if ok.kind != action.get("kind"):
            continue
        # What the action targets: a service, a flag, or (node_drain) a node.
        if ok.service not in (action.get("service"), action.get("flag"), action.get("node")):
            continue
        if ok.to_version and ok.to_version != action.get("to_version"):
            continue
        return True
    return False


def rank_of(hypotheses: list[RankedHypothesis], accepted: list[str]) -> int | None:
    """1-based rank of the first hypothesis naming an accepted service; None if none does."""
    for n, h in enumerate(hypotheses, start=1):
        if h.service in accepted:
            return n
    return None


def score_case(scenario: Scenario, observed: list[Observed]) -> CaseScore:
    """Compare the incidents the pipeline opened with the bundle's expected answer."""
    expected = scenario.expected.incidents if scenario.expected else []
    index = alert_index(scenario)
    truth = [expected_fingerprints(e, index) for e in expected]
    seen = [set(o.fingerprints) & set(index) for o in observed]
    grouping = bool(expected) and all(e.grouping for e in expected)
    want = _pairs([t for t, e in zip(truth, expected, strict=True) if e.grouping])
    got = _pairs(seen)
    tp = len(want & got)
    precision, recall = _ratio(tp, len(got)), _ratio(tp, len(want))
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if precision is not None and recall is not None else None)
    )
    case = CaseScore(
        bundle=scenario.name,
        control=not expected,
        incidents_opened=len(observed),
        pairs={"predicted": len(got), "expected": len(want), "both": tp},
        grouping_scored=grouping,
        precision=precision if grouping else None,
        recall=recall if grouping else None,
        f1=f1 if grouping else None,
        observed=observed,
    )
    for exp, fps in zip(expected, truth, strict=True):
        verdict = _score_expected(exp, fps, observed)
        case.expected.append(verdict)
        rank = verdict.rank
        case.rc_at_1.append(rank is not None and rank <= 1)
        case.rc_at_3.append(rank is not None and rank <= 3)
        case.rc_at_5.append(rank is not None and rank <= 5)
        case.fault_type_ok.append(verdict.fault_type_ok)
        if verdict.action_ok is not None:
            case.action_ok.append(verdict.action_ok)
        if verdict.seconds_to_proposal is not None:
            case.seconds_to_proposal.append(verdict.seconds_to_proposal)
        case.detail.append(_detail(exp, verdict, observed))
    return case


def _score_expected(
    exp: ExpectedIncident, fps: set[str], observed: list[Observed]
) -> ExpectedScore:
    accepted = exp.root_cause.services
    verdict = ExpectedScore(
        root_service=exp.root_cause.service,
        accepted_services=accepted,
        fault_type=exp.root_cause.fault_type.value,
        source_fault_type=exp.source_fault_type,
        action_ok=False if exp.accepted_actions else None,
    )
    # Most of its alerts; on a tie, the incident opened first (observed is in opening order).
    match = max(reversed(observed), key=lambda o: len(fps & set(o.fingerprints)), default=None)
    if match is None or not fps & set(match.fingerprints):
        return verdict
    top = match.hypotheses[0] if match.hypotheses else None
    return verdict.model_copy(
        update={
            "matched": match.id,
            "rank": rank_of(match.hypotheses, accepted),
            "top": top,
            "fault_type_ok": top is not None and top.fault_type == verdict.fault_type,
            "action_ok": (
                _action_ok(match.action, list(exp.accepted_actions))
                if exp.accepted_actions
                else None
            ),
            "seconds_to_proposal": match.seconds_to_proposal,
        }
    )


def _detail(exp: ExpectedIncident, verdict: ExpectedScore, observed: list[Observed]) -> str:
    want = f"{'|'.join(verdict.accepted_services)}/{verdict.fault_type}"
    if verdict.matched is None:
        return f"expected {want}: no incident holds its alerts"
    match = next(o for o in observed if o.id == verdict.matched)
    ranked = ", ".join(f"{h.service}/{h.fault_type}" for h in match.hypotheses[:3]) or "none"
    act = match.action or {}
    rank = "not ranked" if verdict.rank is None else f"rank {verdict.rank}"
    return (
        f"expected {want}, {rank}; top {ranked} ({match.id}, origin {match.origin}); action "
        f"{act.get('kind', 'none')} {act.get('service', act.get('flag', ''))}".rstrip()
    )


def observe(
    incident: Incident,
    investigation: Investigation | None,
    plan: RemediationPlan | None,
    *,
    seconds_to_proposal: float | None = None,
) -> Observed:
    """What the eval keeps of one incident: ranked hypotheses, origin, plan and engine."""
    action = None
    if plan is not None and plan.action is not None:
        params = plan.action.params.model_dump(mode="json")
        action = {k: str(v) for k, v in params.items()}
    hyps = investigation.hypotheses if investigation is not None else []
    return Observed(
        id=incident.id,
        fingerprints=sorted({a.fingerprint for a in incident.alerts}),
        hypotheses=[
            RankedHypothesis(
                service=h.service,
                fault_type=h.fault_type.value,
                confidence=round(h.confidence, 4),
                evidence_ids=list(h.evidence_ids),
            )
            for h in hyps
        ],
        origin=incident.origin_service,
        action=action,
        plan=plan.rationale if plan is not None else None,
        engine=investigation.engine.value if investigation is not None else None,
        seconds_to_proposal=(
            round(seconds_to_proposal, 2)
            if plan is not None and seconds_to_proposal is not None
            else None
        ),
    )
