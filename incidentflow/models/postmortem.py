"""The recorded story of an incident and the post-mortem drafted from it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from incidentflow.models.alerts import Detection
from incidentflow.models.base import Artifact, Engine
from incidentflow.models.incident import AlertDigest, Incident, IncidentState
from incidentflow.models.investigation import Investigation
from incidentflow.models.llm import LlmUsage
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
    TAKEOVER = "takeover"
    NOTE = "note"
    NOTIFICATION = "notification"


class TimelineEvent(Artifact):
    at: datetime
    kind: TimelineKind
    actor: str = Field(description="agent name, person, or 'system'")
    summary: str


class ActionItem(Artifact):
    text: str
    owner: str = Field(description="From the service catalog's owner of the service")


class PostMortem(Artifact):
    incident_id: str
    title: str
    markdown: str
    engine: Engine = Engine.RULES
    impact_start: datetime | None = None
    impact_end: datetime | None = None
    root_cause: str = ""
    action_items: list[ActionItem] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    engine_reason: str = Field(
        default="", description="Why this engine answered, e.g. why an LLM answer was refused"
    )
    llm_usage: LlmUsage | None = Field(default=None, description="What the LLM engine spent")


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
    decisions: list[Approval] = Field(
        default_factory=list, description="Every decision attempt, refused ones included"
    )
    owner: str | None = None
    paused: bool = False
    escalated: bool = False
    parked_stage: str | None = Field(
        default=None, description="The stage a person must retry, skip or override"
    )
    verifications: list[Verification] = Field(default_factory=list)
    digest: AlertDigest | None = Field(
        default=None,
        description="Alerts beyond the detail limit (incident.alerts keeps the first ones), "
        "counted by alertname and service",
    )
    # Issue 17: every version of the investigation and the plan, oldest first (the fields
    # above hold the current one), and the incident this one was merged into.
    investigations: list[Investigation] = Field(default_factory=list)
    plans: list[RemediationPlan] = Field(default_factory=list)
    merged_into: str | None = None


class PostmortemInput(Artifact):
    record: IncidentRecord
    write: bool = Field(default=False, description="Also write Markdown and JSON to disk")
