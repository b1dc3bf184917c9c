"""Alerts that join an open incident: what correlation hands the incident and the stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from incidentflow.agents.topology import deeper_origin, symptom_of
from incidentflow.models import (
    Alert,
    AlertMember,
    Detection,
    DownstreamAlert,
    Duplicate,
    IncidentUpdate,
    OpenIncident,
    ServiceGraph,
)


@dataclass
class Joined:
    """What correlation adds to one open incident in this batch."""

    alerts: list[Alert] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    downstream: list[DownstreamAlert] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    members: dict[str, AlertMember] = field(default_factory=dict)


def add_update(updates: dict[str, Joined], incident_id: str, det: Detection, reason: str) -> None:
    """Record that `det` joins `incident_id`, and why."""
    joined = updates.setdefault(incident_id, Joined())
    joined.alerts.append(det.alert)
    joined.reasons.append(reason)
    joined.members[det.alert.fingerprint] = AlertMember(service=det.service, name=det.alert.name)
    if det.service:
        joined.services.append(det.service)


def incident_update(entry: OpenIncident, joined: Joined, graph: ServiceGraph) -> IncidentUpdate:
    """The update for one open incident; re-explains every alert when the origin moves."""
    update = IncidentUpdate(
        incident_id=entry.id,
        alerts=joined.alerts,
        reasons=joined.reasons,
        services=sorted(set(joined.services)),
        downstream=joined.downstream,
        duplicates=joined.duplicates,
        members=joined.members,
    )
    moved = deeper_origin(entry.origin_service, joined.services, graph)
    if moved is None:
        return update
    origin, why = moved
    members = {**entry.members, **joined.members}
    downstream = [
        symptom
        for fp, m in sorted(members.items())
        if (symptom := symptom_of(fp, m.name, m.service, origin, graph)) is not None
    ]
    return update.model_copy(
        update={
            "origin_service": origin,
            "origin_reason": why,
            "downstream": downstream,
            "reasons": [*joined.reasons, f"origin moves from {entry.origin_service}: {why}"],
        }
    )
