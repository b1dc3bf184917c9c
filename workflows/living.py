"""A living investigation: which changes to an open incident call for a new plan (issue 17).

An incident is not fixed when it opens. Before a decision, a material change (alerts join
that fire, the origin moves, services are added, some alerts resolve while others still
fire) makes the incident workflow investigate and plan again, once the changes have been
quiet for the debounce window (`reinvestigate_debounce_seconds`). Limits, on purpose:
- only before a final decision: once approved, rejected or expired, changes are recorded in
  the timeline and the plan stands;
- every alert resolving is not a re-plan: the settle rule (LiveIncident.may_withdraw in
  workflows/incident_state.py) withdraws the plan instead;
- a person's own plan (an override) is never replaced by an agent's;
- at most MAX_REPLANS versions of the plan per incident, so a flapping storm cannot
  investigate forever or grow the history without bound.

Deterministic module: pure functions over the update and what the incident knows.
"""

from __future__ import annotations

from incidentflow.models import Alert, AlertStatus, IncidentState, IncidentUpdate

# States in which no final decision has been taken: a change may still re-plan.
BEFORE_DECISION = frozenset(
    {
        IncidentState.OPEN,
        IncidentState.INVESTIGATING,
        IncidentState.PLANNING,
        IncidentState.AWAITING_APPROVAL,
    }
)
# Plan versions one incident may have: five re-plans on a live incident is already a lot to
# read; beyond that the changes are only recorded and a person can override or re-plan.
MAX_REPLANS = 5
# Names a change lists before counting the rest.
NAMED = 5


def plan_id(incident_id: str, version: int) -> str:
    """The id of an incident's `version`-th plan (1-based)."""
    return f"{incident_id}/plan-{version}"


def _names(alerts: list[Alert]) -> str:
    names = sorted({a.name for a in alerts})
    more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
    return ", ".join(names[:NAMED]) + more


def material_changes(
    update: IncidentUpdate,
    *,
    alerts: dict[str, Alert],
    services: list[str],
    origin: str | None,
) -> list[str]:
    """What in `update` changes the incident's story, as short reasons (empty: nothing)."""
    changes: list[str] = []
    if update.origin_service and update.origin_service != origin:
        changes.append(f"origin moved from {origin or 'unknown'} to {update.origin_service}")
    added = [s for s in dict.fromkeys(update.services) if s not in services]
    if added:
        changes.append(f"services added: {', '.join(added[:NAMED])}")
    joined = [
        a for a in update.alerts if a.fingerprint not in alerts and a.status is AlertStatus.FIRING
    ]
    if joined:
        changes.append(f"{len(joined)} firing alert(s) joined: {_names(joined)}")
    resolved = [
        a
        for a in update.alerts
        if a.status is AlertStatus.RESOLVED
        and (known := alerts.get(a.fingerprint)) is not None
        and known.status is AlertStatus.FIRING
    ]
    after = {**alerts, **{a.fingerprint: a for a in update.alerts}}
    still_firing = any(a.status is AlertStatus.FIRING for a in after.values())
    if resolved and still_firing:
        changes.append(f"{len(resolved)} alert(s) resolved: {_names(resolved)}")
    return changes


def summary(changes: list[str]) -> str:
    """One line for the timeline and the plan's reason: the distinct changes, in order."""
    return "; ".join(dict.fromkeys(changes))
