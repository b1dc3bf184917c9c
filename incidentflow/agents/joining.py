"""Alerts that join an open incident: what correlation hands the incident and the stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from incidentflow.agents.memo_graph import distance
from incidentflow.agents.topology import deeper_origin, downstream_of, hops, symptom_of
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


@dataclass(frozen=True)
class Nearest:
    """The open incident an alert's service is closest to, how close, and through which."""

    incident: OpenIncident
    hops: int
    via: str


def nearest_open_incident(
    service: str, by_age: list[OpenIncident], graph: ServiceGraph, join_hops: int
) -> Nearest | None:
    """The open incident whose services are fewest hops from `service` (oldest on a tie)."""
    best: Nearest | None = None
    for incident in by_age:
        for svc in incident.services:
            dist = 0 if svc == service else distance(graph, service, svc, join_hops)
            if dist is None:
                continue
            if best is None or dist < best.hops:
                best = Nearest(incident=incident, hops=dist, via=svc)
    return best


def join_nearest(
    det: Detection, nearest: Nearest, updates: dict[str, Joined], graph: ServiceGraph
) -> None:
    """Record `det` joining its nearest open incident, and the edge path that explains it."""
    incident = nearest.incident
    where = (
        "is one of its services"
        if nearest.hops == 0
        else f"is {hops(nearest.hops)} from {nearest.via}"
    )
    add_update(
        updates, incident.id, det, f"{det.alert.name} joined {incident.id}: {det.service} {where}"
    )
    symptom = downstream_of(det, incident.origin_service, graph)
    if symptom is not None:
        updates[incident.id].downstream.append(symptom)


def join_through_new_members(
    pending: list[Detection],
    by_age: list[OpenIncident],
    updates: dict[str, Joined],
    graph: ServiceGraph,
    join_hops: int,
) -> list[Detection]:
    """Join waiting alerts to incidents widened by this batch's joins; what is left waiting.

    An alert near a service that joined an incident in this same batch belongs to it as much
    as if the two had come a round apart (by then the index lists that service): what forms
    must not depend on how deliveries fell into rounds. Repeats while anything joins.
    """
    while pending and updates:
        grown = [
            inc.model_copy(update={"services": sorted({*inc.services, *updates[inc.id].services})})
            if inc.id in updates and updates[inc.id].services
            else inc
            for inc in by_age
        ]
        near: dict[str, Nearest | None] = {}
        left: list[Detection] = []
        for det in pending:
            if det.service is not None and det.service not in near:
                near[det.service] = nearest_open_incident(det.service, grown, graph, join_hops)
            found = near.get(det.service) if det.service is not None else None
            if found is None:
                left.append(det)
            else:
                join_nearest(det, found, updates, graph)
        if len(left) == len(pending):
            return left
        pending = left
    return pending
