"""Score what the pipeline concluded for a bundle against its expected answer.

Alert grouping is scored pairwise over the bundle's alerts: a pair is predicted together when
one incident holds both, expected together when one expected incident lists both. Root cause,
fault type and action are scored per expected incident, against the observed incident that
holds most of its alerts.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.scenario import ExpectedIncident, Scenario


class Observed(BaseModel):
    """One incident the pipeline opened, reduced to what is scored."""

    model_config = ConfigDict(frozen=True)

    id: str
    fingerprints: list[str]
    hypotheses: list[tuple[str, str]] = Field(description="(service, fault type), ranked")
    action: dict[str, str] | None = None
    seconds_to_proposal: float | None = None


class CaseScore(BaseModel):
    """Per-bundle figures; None where the bundle has nothing to score it on."""

    bundle: str
    control: bool
    incidents_opened: int
    pairs: dict[str, int]
    precision: float | None
    recall: float | None
    f1: float | None
    rc_at_1: list[bool] = Field(default_factory=list)
    rc_at_3: list[bool] = Field(default_factory=list)
    fault_type_ok: list[bool] = Field(default_factory=list)
    action_ok: list[bool] = Field(default_factory=list)
    seconds_to_proposal: list[float] = Field(default_factory=list)
    detail: list[str] = Field(default_factory=list)
    error: str | None = None
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
    if action is None:
        return False
    for ok in accepted:
        if ok.kind != action.get("kind"):
            continue
        if ok.service not in (action.get("service"), action.get("flag"), None):
            continue
        if ok.to_version and ok.to_version != action.get("to_version"):
            continue
        return True
    return False


def score_case(scenario: Scenario, observed: list[Observed]) -> CaseScore:
    """Compare the incidents the pipeline opened with the bundle's expected answer."""
    expected = scenario.expected.incidents if scenario.expected else []
    index = alert_index(scenario)
    truth = [expected_fingerprints(e, index) for e in expected]
    seen = [set(o.fingerprints) & set(index) for o in observed]
    want, got = _pairs(truth), _pairs(seen)
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
        precision=precision,
        recall=recall,
        f1=f1,
    )
    for exp, fps in zip(expected, truth, strict=True):
        match = max(observed, key=lambda o: len(fps & set(o.fingerprints)), default=None)
        if match is None or not fps & set(match.fingerprints):
            case.rc_at_1.append(False)
            case.rc_at_3.append(False)
            case.fault_type_ok.append(False)
            case.action_ok.append(False)
            case.detail.append(f"expected {exp.root_cause.service}: no incident opened")
            continue
        services = [s for s, _ in match.hypotheses]
        top = match.hypotheses[0] if match.hypotheses else ("-", "-")
        case.rc_at_1.append(services[:1] == [exp.root_cause.service])
        case.rc_at_3.append(exp.root_cause.service in services[:3])
        case.fault_type_ok.append(
            top[0] == exp.root_cause.service and top[1] == exp.root_cause.fault_type.value
        )
        case.action_ok.append(_action_ok(match.action, list(exp.accepted_actions)))
        if match.seconds_to_proposal is not None:
            case.seconds_to_proposal.append(match.seconds_to_proposal)
        act = match.action or {}
        case.detail.append(
            f"expected {exp.root_cause.service}/{exp.root_cause.fault_type.value}, got "
            f"{top[0]}/{top[1]} ({match.id}); action "
            f"{act.get('kind', 'none')} {act.get('service', act.get('flag', ''))}".rstrip()
        )
    return case
