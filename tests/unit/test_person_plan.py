"""Issue 18 item 3 through a person's override: the plan's words come from its typed params.

A person gives params (or a whole plan whose prose is stale or wrong): the workflow's
override check rebuilds summary, risk, verification and undo from the catalog, and still
refuses params that break the kind's bounds.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scenario_alerts import demo_incident

from incidentflow.agents.remediation.person import is_params_only, person_plan
from incidentflow.catalog import CATALOG
from incidentflow.models import (
    NoopParams,
    RemediationPlan,
    ResourcesParams,
    Risk,
    RollbackParams,
    ScaleParams,
)
from workflows.overrides import plan_problem, regenerated

INC = demo_incident()


def agents_plan() -> RemediationPlan:
    rb = RollbackParams(service="payments", from_version="v2", to_version="v1")
    action = CATALOG.action(
        rb, incident_id=INC.id, n=1, alerts=["HighErrorRate"], window_seconds=600
    )
    return RemediationPlan(incident_id=INC.id, action=action, rationale="agent")


def mine(params: object, **action: object) -> RemediationPlan:
    doc = {"action": {"params": params, **action}, "rationale": "mine"}
    return person_plan(doc, INC, by="dana", window_seconds=600)  # type: ignore[arg-type]


def test_a_plan_with_someone_elses_words_gets_the_catalogs() -> None:
    scale = ScaleParams(service="payments", from_replicas=3, to_replicas=6)
    good = CATALOG.action(scale, incident_id=INC.id, n=2, alerts=[], window_seconds=300)
    lying = good.model_copy(
        update={
            "summary": "Add a little capacity (harmless)",
            "risk": Risk.LOW,
            "undo": NoopParams(reason="nothing"),
            "undo_summary": "Nothing to undo",
        }
    )
    plan = RemediationPlan(incident_id=INC.id, action=lying, alternatives=[lying], rationale="x")
    # Checked as written, the words are refused; the override path rebuilds them first.
    assert plan_problem(plan, INC.id, agents_plan()) is not None
    fixed = regenerated(plan)
    assert fixed is not None and fixed.action is not None
    for action in (fixed.action, *fixed.alternatives):
        assert action.summary == good.summary == "Scale payments from 3 to 6 replicas"
        assert (action.risk, action.undo, action.undo_summary) == (
            good.risk,
            good.undo,
            good.undo_summary,
        )
        assert action.verify.window_seconds == 300  # a person may shorten the window
    assert plan_problem(fixed, INC.id, agents_plan()) is None
    # A risk a person raised stays raised.
    high = regenerated(
        plan.model_copy(update={"action": lying.model_copy(update={"risk": Risk.HIGH})})
    )
    assert high is not None and high.action is not None and high.action.risk is Risk.HIGH


@pytest.mark.parametrize(
    ("params", "why"),
    [
        (ScaleParams(service="payments", from_replicas=3, to_replicas=100), "at most 4x"),
        (
            ResourcesParams(
                service="payments",
                resource="cpu",
                from_request="250m",
                to_request="2",
                from_limit="500m",
                to_limit="1",
            ),
            "request may not exceed the limit",
        ),
        (
            ResourcesParams(
                service="payments",
                resource="memory",
                from_request="1Gi",
                to_request="1Gi",
                from_limit="1Gi",
                to_limit="lots",
            ),
            "not a Kubernetes quantity",
        ),
    ],
)
def test_params_out_of_bounds_are_still_refused(params: object, why: str) -> None:
    plan = mine(params.model_dump())  # type: ignore[attr-defined]
    problem = plan_problem(regenerated(plan), INC.id, agents_plan())
    assert problem is not None and why in problem


def test_a_person_gives_params_and_the_catalog_writes_the_rest() -> None:
    doc = {"action": {"params": {"kind": "restart", "service": "payments"}}}
    assert is_params_only(doc)
    assert not is_params_only({"action": {"params": {}, "summary": "x"}})
    plan = mine({"kind": "restart", "service": "payments"})
    assert plan.action is not None
    assert plan.action.summary == CATALOG.describe(plan.action.params)[0]
    assert plan.action.undo == CATALOG.describe(plan.action.params)[1]
    assert f"All alerts of {INC.id}" in plan.action.verify.description
    assert plan.action.incident_id == INC.id and plan.rationale == "mine"
    # Its own id, so the ledger never mistakes it for the agent's identical action.
    agents = CATALOG.action(
        plan.action.params, incident_id=INC.id, n=1, alerts=[], window_seconds=600
    )
    assert plan.action.id != agents.id
    assert plan_problem(regenerated(plan), INC.id, agents_plan()) is None
    # Risk: raised is kept, lowered is the catalog's floor.
    assert mine({"kind": "restart", "service": "p"}, risk="high").action.risk is Risk.HIGH  # type: ignore[union-attr]
    lowered = mine({"kind": "node_drain", "node": "node-2"}, risk="low").action
    assert lowered is not None and lowered.risk is Risk.HIGH
    # Prose in a params-only document, or an unknown kind, is not accepted.
    with pytest.raises(ValidationError):
        mine({"kind": "restart", "service": "p"}, summary_text="harmless")
    with pytest.raises(ValidationError):
        mine({"kind": "reboot_everything"})
