"""A person's split through the rules engines: what the new incident is about.

A person decides which alerts form the new incident; detection and correlation still decide its
origin service, severity, downstream alerts and the reasons for each, exactly as for an
incident the stream opens. Pure and deterministic, like the engines themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidentflow.agents.common import short_hash, utc
from incidentflow.agents.correlation import _build_incident, correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.rules import Rules
from incidentflow.models import (
    AlertBatch,
    CorrelationInput,
    Detection,
    Incident,
    IncidentMoved,
    ServiceGraph,
    Severity,
)


@dataclass(frozen=True)
class SplitIncident:
    """The new incident and the detections it rests on."""

    incident: Incident
    detections: list[Detection]


def split_incident_id(source_id: str, source_opened_at: datetime, fingerprints: list[str]) -> str:
    """`INC-<date>-<short>` from the source incident and the split's fingerprints.

    Derived, never random: the same split asked again (a command re-run after a crash) names
    the same incident, which Temporal then refuses to start twice.
    """
    fps = sorted(set(fingerprints))
    return f"INC-{utc(source_opened_at):%Y%m%d}-{short_hash('split', source_id, *fps)}"


def split_incident(
    moved: IncidentMoved,
    *,
    incident_id: str,
    environment: str,
    graph: ServiceGraph,
    rules: Rules,
    at: datetime,
) -> SplitIncident:
    """The incident made of `moved.alerts`, with detection's and correlation's reasons.

    When correlation alone would group the alerts into exactly this incident, its record is
    used as is. Otherwise (they span unrelated services, or would open nothing: a lone
    warning, resolved alerts) the person's grouping stands and correlation's incident builder
    still explains origin, severity and downstream; a reason says what correlation would
    have done.
    """
    batch = AlertBatch(
        batch_id=f"split-{incident_id}",
        environment=environment,
        received_at=at,
        alerts=moved.alerts,
    )
    detections = detect(batch, graph, rules.detection).detections
    found = correlate(
        CorrelationInput(environment=environment, detections=detections, open_incidents=[]),
        graph,
        rules.correlation,
    )
    fps = {a.fingerprint for a in moved.alerts}
    whole = [i for i in found.new_incidents if {a.fingerprint for a in i.alerts} == fps]
    if whole:
        built = whole[0]
    else:
        would = f"correlation alone would open {len(found.new_incidents)} incident(s) from them"
        if found.dropped:
            would += f" and leave out {len(found.dropped)} ({found.dropped[0].reasons[-1]})"
        # The person's grouping stands; the builder is correlation's own, so origin, severity,
        # downstream and title follow the same rules as for an incident the stream opens.
        built = _build_incident(
            detections,
            graph,
            environment,
            [],
            Severity.most_urgent([d.severity for d in detections]),
            [f"grouped by {moved.by}'s split: {would}"],
        )
    person = f"split from {moved.incident_id} by {moved.by}" + (
        f": {moved.reason}" if moved.reason else ""
    )
    reasons = [
        person,
        *(r for r in built.reasons if not r.startswith("id: ")),
        f"id: {incident_id} from {moved.incident_id} and {len(fps)} fingerprints",
    ]
    return SplitIncident(
        incident=built.model_copy(update={"id": incident_id, "reasons": reasons}),
        detections=detections,
    )
