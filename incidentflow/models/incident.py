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
from incidentflow.models.base import Artifact, Severity
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

    @property
    def terminal(self) -> bool:
        """True when the incident workflow has finished (or will, after drafting)."""
        return self in (IncidentState.REJECTED, IncidentState.EXPIRED, IncidentState.CLOSED)


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


class OpenIncident(Artifact):
    """The stream's index entry for an open incident: enough to join new alerts to it."""

    id: str
    services: list[str]
    fingerprints: list[str]
    opened_at: datetime
    origin_service: str | None = Field(
        default=None, description="Correlation's origin: joined alerts are explained against it"
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


class IncidentInput(Artifact):
    """What the stream workflow starts an incident workflow with."""

    incident: Incident
    detections: list[Detection]
    correlation: CorrelationResult
    stream_workflow_id: str = Field(description="The alert stream to tell when it closes")
    approval_timeout_seconds: int = Field(default=1800, gt=0)
    agent_queue: str = AGENT_QUEUE
    remediation_queue: str = REMEDIATION_QUEUE


class IncidentClosed(Artifact):
    """An incident workflow tells its stream it is done, so new alerts open a new one."""

    incident_id: str


class StreamInput(Artifact):
    """Alert stream workflow input; carried across continue-as-new."""

    environment: str
    open_incidents: list[OpenIncident] = Field(default_factory=list)
    pending: list[AlertBatch] = Field(default_factory=list)
    seen_batches: list[str] = Field(default_factory=list)
    approval_timeout_seconds: int = Field(default=1800, gt=0)
    agent_queue: str = AGENT_QUEUE
    remediation_queue: str = REMEDIATION_QUEUE
    workflow_queue: str = WORKFLOW_QUEUE
    continue_as_new_after_events: int = Field(
        default=10_000, gt=0, description="Hand over to a new run before this history length"
    )
