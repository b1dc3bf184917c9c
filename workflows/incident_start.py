"""How an incident workflow looks in the Temporal UI, whoever starts it: the alert stream when
correlation opens an incident, or the `split` command when a person splits one off another.

Deterministic module: pure functions of the incident, safe inside workflow code.
"""

from __future__ import annotations

from typing import Any, TypedDict

from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from incidentflow.models import Incident
from incidentflow.search import OWNER_KEY, SERVICE_KEY, SEVERITY_KEY, STATE_KEY, UNASSIGNED


class IncidentStartFields(TypedDict):
    """Keyword arguments of `start_child_workflow` and `Client.start_workflow` alike."""

    static_summary: str
    static_details: str
    memo: dict[str, Any]
    search_attributes: TypedSearchAttributes
    id_reuse_policy: WorkflowIDReusePolicy


def incident_start_fields(incident: Incident) -> IncidentStartFields:
    """Summary, details, memo and search attributes of a new incident workflow.

    The id may never be reused: starting an incident twice (a retried batch, a re-run split)
    is refused by Temporal, and the caller treats that as "already open".
    """
    return IncidentStartFields(
        static_summary=f"{incident.severity.value} · {incident.title}",
        static_details=(
            f"Incident {incident.id} in {incident.environment}: "
            f"{len(incident.alerts)} alert(s), origin "
            f"{incident.origin_service or 'unknown'}, services "
            f"{', '.join(incident.services)}"
        ),
        memo={"title": incident.title},
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(STATE_KEY, "open"),
                SearchAttributePair(SEVERITY_KEY, incident.severity.value),
                SearchAttributePair(SERVICE_KEY, incident.origin_service or "unknown"),
                SearchAttributePair(OWNER_KEY, UNASSIGNED),
            ]
        ),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
