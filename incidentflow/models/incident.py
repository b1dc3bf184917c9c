"""Correlation's record of an incident, and what the stream hands to an incident workflow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from incidentflow.models.alerts import (
    Alert,
    AlertBatch,
    Detection,
    DownstreamAlert,
    Duplicate,
)
from incidentflow.models.base import Artifact, Engine, Severity
from incidentflow.models.llm import LlmUsage
from incidentflow.settings import AGENT_QUEUE, REMEDIATION_QUEUE, WORKFLOW_QUEUE


class IncidentState(StrEnum):
    """Where an incident is; kept current in the `IncidentState` search attribute."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    UNDOING = "undoing"
    DRAFTING_POSTMORTEM = "drafting_postmortem"
    NEEDS_ATTENTION = "needs_attention"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CLOSED = "closed"
    # Every alert resolved before an action was approved: the plan was withdrawn (issue 13).
    RESOLVED = "resolved"
    # A person merged it into another incident, which carries its alerts on (issue 17).
    MERGED = "merged"

    @property
    def terminal(self) -> bool:
        """True when the incident workflow has finished (or will, after drafting)."""
        return self in (
            IncidentState.REJECTED,
            IncidentState.EXPIRED,
            IncidentState.CLOSED,
            IncidentState.RESOLVED,
            IncidentState.MERGED,
        )


class Incident(Artifact):
    """One real problem: its alerts, origin, duplicates and the noise it explains."""

    id: str = Field(description="INC-<yyyymmdd>-<short>")
    environment: str
    title: str
    severity: Severity
    origin_service: str | None
    services: list[str]
    alerts: list[Alert]
    downstream: list[DownstreamAlert] = Field(default_factory=list)
    duplicates: list[Duplicate] = Field(default_factory=list)
    opened_at: datetime
    reasons: list[str] = Field(default_factory=list)
    resolved_at: datetime | None = Field(
        default=None, description="When every alert of the incident had resolved at its source"
    )


class AlertDigest(Artifact):
    """Alerts of an incident beyond its detail limit, counted instead of kept (issue 14: one
    storm incident of 60,000 alerts outgrew Temporal's query limit and the worker's memory).

    It counts deliveries: an alert counted here that fires or resolves again counts again.
    """

    alerts: int = 0
    firing: int = 0
    resolved: int = 0
    by_name: dict[str, int] = Field(default_factory=dict, description="Counts by alertname")
    by_service: dict[str, int] = Field(default_factory=dict, description="Counts by service")
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class AlertMember(Artifact):
    """One alert of an open incident, as the stream's index remembers it."""

    service: str | None = None
    name: str = ""


class OpenIncident(Artifact):
    """The stream's index entry for an open incident: enough to join new alerts to it."""

    id: str
    services: list[str]
    fingerprints: list[str]
    opened_at: datetime
    origin_service: str | None = Field(
        default=None, description="Correlation's origin: joined alerts are explained against it"
    )
    resolved: list[str] = Field(
        default_factory=list, description="Fingerprints whose latest status is resolved"
    )
    members: dict[str, AlertMember] = Field(
        default_factory=dict,
        description="Fingerprint -> service and name: lets correlation re-explain every alert "
        "when a deeper failing dependency joins and the origin moves",
    )


class IncidentUpdate(Artifact):
    """New alerts that correlation joined to an already open incident."""

    incident_id: str
    alerts: list[Alert]
    reasons: list[str]
    services: list[str] = Field(
        default_factory=list,
        description="Services of the joined alerts: widen the open incident's index with them",
    )
    downstream: list[DownstreamAlert] = Field(
        default_factory=list, description="Joined alerts explained by the incident's origin"
    )
    duplicates: list[Duplicate] = Field(
        default_factory=list, description="Known alerts delivered again (e.g. by an HA peer)"
    )
    members: dict[str, AlertMember] = Field(
        default_factory=dict, description="Service and name of each joined alert"
    )
    origin_service: str | None = Field(
        default=None,
        description="Set when a joined alert's service is a deeper failing dependency: the "
        "origin moves there, and `downstream` then replaces the incident's whole list",
    )
    origin_reason: str = ""


class CorrelationInput(Artifact):
    detections: list[Detection]
    open_incidents: list[OpenIncident]
    environment: str = Field(
        default="production", description="Stream partition; part of new incident ids"
    )


class CorrelationResult(Artifact):
    new_incidents: list[Incident] = Field(default_factory=list)
    updates: list[IncidentUpdate] = Field(default_factory=list)
    dropped: list[Detection] = Field(
        default_factory=list, description="Noise and duplicates of already known alerts"
    )
    quiet: list[str] = Field(
        default_factory=list,
        description="Fingerprints dropped only because their group was too quiet to page "
        "(a lone warning): related alerts that arrive within the group window may still "
        "make an incident of them",
    )
    engine: Engine = Engine.RULES
    engine_reason: str = Field(
        default="", description="Why this engine answered, e.g. why an LLM answer was refused"
    )
    llm_usage: LlmUsage | None = Field(default=None, description="What the LLM engine spent")


class IncidentInput(Artifact):
    """What the stream workflow starts an incident workflow with."""

    incident: Incident
    detections: list[Detection]
    correlation: CorrelationResult
    stream_workflow_id: str = Field(description="The alert stream to tell when it closes")
    agent_queue: str = AGENT_QUEUE
    remediation_queue: str = REMEDIATION_QUEUE
    split_from: IncidentMoved | None = Field(
        default=None,
        description="Set when a person split this incident's alerts off another (`incidentflow "
        "split`): who, from which incident and why; its alerts are in `incident`, not here",
    )


class IncidentClosed(Artifact):
    """An incident workflow tells its stream it is done, so new alerts open a new one."""

    incident_id: str


class StreamStats(Artifact):
    """Counters a stream carries across continue-as-new: every alert is accounted for."""

    runs: int = 1
    batches: int = 0
    alerts_received: int = 0
    alerts_processed: int = 0
    incidents_opened: int = 0
    alerts_joined: int = 0
    alerts_dropped: int = 0
    alerts_quarantined: int = Field(
        default=0, description="Alerts of rounds no agent could process (see `quarantine`)"
    )
    alerts_after_end: int = Field(
        default=0,
        description="Alerts meant for an incident that had ended (closed, cancelled, "
        "terminated): correlated again, into a new incident or another open one",
    )
    incidents_gone: int = Field(
        default=0, description="Incidents found ended when the stream signalled them"
    )


class QuarantinedAlerts(Artifact):
    """A round of alerts no agent could process, with the error; the stream moved on."""

    batch_id: str
    at: datetime
    stage: str = Field(description="The agent that failed: detect | correlate")
    error: str
    alert_count: int
    alerts: list[Alert] = Field(description="The first alerts of the round (raw left out)")


class GoneIncident(Artifact):
    """An incident that had ended when the stream signalled it: its alerts went elsewhere."""

    incident_id: str
    at: datetime
    error: str
    alerts_after_end: int = Field(description="Alerts correlated again because it had ended")


class StreamConfig(Artifact):
    """What the alert stream reads from its worker's settings (issue 17 item 5): read through
    the `stream_config` activity on the stream's own task queue when a run starts and again
    once it is older than `refresh_seconds`, never carried in the stream's input."""

    agent_queue: str = AGENT_QUEUE
    remediation_queue: str = REMEDIATION_QUEUE
    workflow_queue: str = WORKFLOW_QUEUE
    settle_seconds: float = Field(
        default=0.0, ge=0, description="Hold new batches this long so quick resolves cancel out"
    )
    refresh_seconds: float = Field(
        default=60.0, ge=0, description="Read the configuration again before a round past this age"
    )


class StreamInput(Artifact):
    """Alert stream workflow input; carried across continue-as-new."""

    environment: str
    open_incidents: list[OpenIncident] = Field(default_factory=list)
    pending: list[AlertBatch] = Field(default_factory=list)
    seen_batches: list[str] = Field(default_factory=list)
    continue_as_new_after_events: int = Field(
        default=10_000, gt=0, description="Hand over to a new run before this history length"
    )
    stats: StreamStats = Field(default_factory=StreamStats)
    transitions: dict[str, list[datetime]] = Field(
        default_factory=dict, description="Recent status changes per fingerprint (flapping)"
    )
    quiet: list[Detection] = Field(
        default_factory=list,
        description="Lone warnings held for the group window: later related alerts may join them",
    )
    quarantined: list[QuarantinedAlerts] = Field(
        default_factory=list, description="The latest rounds no agent could process"
    )
    gone: list[GoneIncident] = Field(
        default_factory=list, description="The latest incidents found ended when signalled"
    )


class AlertsResolved(Artifact):
    """The stream tells an incident that every one of its alerts has resolved."""

    incident_id: str
    at: datetime
    fingerprints: list[str]


class MergeRequest(Artifact):
    """A person merges incident `source` into `target` (update on both, recorded in both)."""

    target: str
    source: str
    by: str = Field(min_length=1)
    reason: str = ""


class SplitRequest(Artifact):
    """A person moves alerts out of `incident_id` into a new incident of their own."""

    incident_id: str
    fingerprints: list[str] = Field(min_length=1)
    by: str = Field(min_length=1)
    reason: str = ""
    into: str = Field(
        default="",
        description="The new incident's id (derived from the source and the fingerprints, so "
        "asking again names the same one); recorded in the source's timeline",
    )


class IncidentMoved(Artifact):
    """What a merge or split moved, as the incident workflows and the stream record it."""

    incident_id: str = Field(description="The incident this message is for")
    other_id: str = Field(description="The incident on the other side of the move")
    alerts: list[Alert] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    by: str
    reason: str = ""
    kind: str = Field(description="merged_into | merged_from | split_out | split_from")


# StreamInput names StreamStats, and IncidentInput names IncidentMoved, before they are defined:
# finish both here, at import, because the workflow sandbox cannot resolve the forward references
# later (issue 5 saw "not fully defined").
StreamInput.model_rebuild()
IncidentInput.model_rebuild()
