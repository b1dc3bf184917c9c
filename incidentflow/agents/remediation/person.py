"""A person's plan given as params: `incidentflow override INCIDENT planning FILE` with

    {"action": {"params": {"kind": "scale", "service": "cart", "from_replicas": 3,
                           "to_replicas": 6},
                "risk": "high"},                          # optional: only ever raised
     "alternatives": [{"params": {...}}],                 # optional
     "rationale": "why, in the person's words"}           # optional

Every word an approver reads (summary, risk floor, verification, undo) is the catalog's for
those params; the workflow checks the params' bounds and rebuilds the words again
(`workflows/overrides.py`). Pure: ids are hashes of the incident and the params.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from incidentflow.catalog import CATALOG, RISK_ORDER
from incidentflow.models import ActionParams, Incident, RemediationAction, RemediationPlan, Risk

MAX_ALTERNATIVES = 3
_PARAMS: TypeAdapter[ActionParams] = TypeAdapter(ActionParams)


class PersonAction(BaseModel):
    """One action as a person writes it: params, and optionally a raised risk."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any]
    risk: Risk | None = None


class PersonPlan(BaseModel):
    """A plan as a person writes it: params only, no prose the catalog would write."""

    model_config = ConfigDict(extra="forbid")

    action: PersonAction
    alternatives: list[PersonAction] = Field(default_factory=list, max_length=MAX_ALTERNATIVES)
    rationale: str = ""


def is_params_only(doc: Any) -> bool:
    """Whether a planning override document gives params without the catalog's words."""
    action = doc.get("action") if isinstance(doc, dict) else None
    return isinstance(action, dict) and "params" in action and "summary" not in action


def person_plan(
    doc: dict[str, Any], incident: Incident, *, by: str, window_seconds: int
) -> RemediationPlan:
    """The full plan for a params-only document; pydantic's ValidationError when it is not one
    (an unknown kind, a missing field); the kind's bounds are the workflow's to check."""
    mine = PersonPlan.model_validate(doc)
    actions = [
        _action(one, incident, n, window_seconds)
        for n, one in enumerate([mine.action, *mine.alternatives], start=1)
    ]
    return RemediationPlan(
        incident_id=incident.id,
        action=actions[0],
        alternatives=actions[1:],
        rationale=mine.rationale or f"{by} gave the params: {actions[0].summary}",
    )


def _action(one: PersonAction, incident: Incident, n: int, window: int) -> RemediationAction:
    params = _PARAMS.validate_python(one.params)
    built = CATALOG.action(
        params,
        incident_id=incident.id,
        n=n,
        alerts=[a.name for a in incident.alerts],
        window_seconds=window,
    )
    if one.risk is not None and RISK_ORDER.index(one.risk) > RISK_ORDER.index(built.risk):
        built = built.model_copy(update={"risk": one.risk})
    return built.model_copy(update={"id": f"{built.id}-p"})
