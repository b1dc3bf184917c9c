"""Checks on a person's artifact before it replaces an agent's: the same rules, same types.

Deterministic module: pure functions only.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from incidentflow.catalog import CATALOG
    from incidentflow.models import (
        Investigation,
        PostMortem,
        RemediationAction,
        RemediationPlan,
    )


def investigation_problem(inv: Investigation | None, incident_id: str) -> str | None:
    """Why a person's investigation cannot be used, or None."""
    if inv is None:
        return "an investigation override needs the investigation artifact"
    if inv.incident_id != incident_id:
        return f"the investigation is for {inv.incident_id}, not {incident_id}"
    known = {e.id for e in inv.evidence}
    unknown = {i for h in inv.hypotheses for i in h.evidence_ids} - known
    if unknown:
        return f"hypotheses cite unknown evidence: {', '.join(sorted(unknown))}"
    return None


def regenerated(plan: RemediationPlan | None) -> RemediationPlan | None:
    """A person's plan with every action's summary, risk, verification and undo rebuilt from
    its typed params by the catalog: a person gives params, never the prose an approver reads
    (a risk raised above the catalog's, or a shorter verification window, is kept)."""
    if plan is None:
        return None

    def one(action: RemediationAction) -> RemediationAction:
        return CATALOG.regenerate(action)

    return plan.model_copy(
        update={
            "action": one(plan.action) if plan.action is not None else None,
            "alternatives": [one(a) for a in plan.alternatives],
        }
    )


def plan_problem(
    plan: RemediationPlan | None, incident_id: str, current: RemediationPlan | None
) -> str | None:
    """Why a person's plan cannot be used (params out of the kind's bounds, an executor the kind
    does not run on, the old id), or None. Check it after `regenerated`, which writes the words."""
    if plan is None or plan.action is None:
        return "a plan override needs a plan with an action from the catalog"
    if plan.incident_id != incident_id or plan.action.incident_id != incident_id:
        return f"the plan is for {plan.incident_id}, not {incident_id}"
    problems = CATALOG.problems(plan.action)
    if problems:
        return "; ".join(problems)
    old = current.action if current else None
    if old is not None and plan.action.id == old.id:
        # The ledger runs an id once: reusing it would make the new action a no-op.
        return "give the new action its own id: the old one may have run"
    return None


def postmortem_problem(
    pm: PostMortem | None, incident_id: str, drafted: PostMortem | None
) -> str | None:
    """Why a person's post-mortem cannot be used, or None."""
    if pm is None or pm.incident_id != incident_id:
        return f"a post-mortem override needs a post-mortem for {incident_id}"
    if drafted is not None:
        return "the post-mortem is already drafted; edit its Markdown file"
    return None
