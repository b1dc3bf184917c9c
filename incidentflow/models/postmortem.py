"""The recorded story of an incident and the post-mortem drafted from it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from incidentflow.models.alerts import Detection
from incidentflow.models.base import Artifact, Engine
from incidentflow.models.incident import Incident, IncidentState
from incidentflow.models.investigation import Investigation
from incidentflow.models.remediation import (
    ActionResult,
    Approval,
    RemediationPlan,
    Verification,
)


class TimelineKind(StrEnum):
    ALERT = "alert"
    DETECTION = "detection"
    CORRELATION = "correlation"
    INVESTIGATION = "investigation"
    PLAN = "plan"
    DECISION = "decision"
    ACTION = "action"
    VERIFICATION = "verification"
    STATE = "state"
    POSTMORTEM = "postmortem"


class TimelineEvent(Artifact):
    at: datetime
    kind: TimelineKind
    actor: str = Field(description="agent name, person, or 'system'")
    summary: str


class PostMortem(Artifact):
    incident_id: str
    title: str
    markdown: str
    engine: Engine = Engine.RULES


class IncidentRecord(Artifact):
    """Everything an incident emitted, in order: what `show`, the UI and a person read."""

    incident: Incident
    state: IncidentState
    waiting_for: str = ""
    detections: list[Detection] = Field(default_factory=list)
    investigation: Investigation | None = None
    plan: RemediationPlan | None = None
    approval: Approval | None = None
    results: list[ActionResult] = Field(default_factory=list)
    verification: Verification | None = None
    postmortem: PostMortem | None = None
    timeline: list[TimelineEvent] = Field(default_factory=list)


class PostmortemInput(Artifact):
    record: IncidentRecord
