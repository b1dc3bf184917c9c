"""What a person sends to take over an incident, and what notifiers send out."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from incidentflow.models.base import Artifact
from incidentflow.models.decisions import DecisionProof
from incidentflow.models.investigation import Investigation
from incidentflow.models.postmortem import PostMortem
from incidentflow.models.remediation import RemediationPlan


class Stage(StrEnum):
    """The agent steps a person can override, retry or skip (a gate runs before each)."""

    INVESTIGATION = "investigation"
    PLANNING = "planning"
    EXECUTION = "execution"
    POSTMORTEM = "postmortem"


class TakeoverRequest(Artifact):
    """pause, resume, assign, note, escalate, resolve: who, and what they say."""

    by: str = Field(min_length=1)
    text: str = Field(default="", description="The note, the reason, or the new owner")
    proof: DecisionProof | None = Field(
        default=None, description="The decision API's signature (verified by the workflow)"
    )


class StageRequest(Artifact):
    """retry or skip one stage."""

    by: str = Field(min_length=1)
    stage: Stage
    reason: str = ""
    proof: DecisionProof | None = Field(
        default=None, description="The decision API's signature (verified by the workflow)"
    )


class OverrideRequest(Artifact):
    """A person's own artifact for a stage, validated like the agent's output."""

    by: str = Field(min_length=1)
    stage: Stage
    reason: str = ""
    investigation: Investigation | None = None
    plan: RemediationPlan | None = None
    postmortem: PostMortem | None = None
    proof: DecisionProof | None = Field(
        default=None, description="The decision API's signature (verified by the workflow)"
    )


class NotificationKind(StrEnum):
    DECISION_NEEDED = "decision_needed"
    STATE_CHANGED = "state_changed"
    EXPIRED = "expired"
    ESCALATED = "escalated"
    # The plan a person was asked about was replaced by a new version (re-investigation).
    PLAN_CHANGED = "plan_changed"


class Notification(Artifact):
    """One message to people: enough to act on without opening anything else."""

    kind: NotificationKind
    incident_id: str
    title: str
    severity: str
    service: str | None
    state: str
    summary: str
    proposed_action: str | None = None
    risk: str | None = None
    undo: str | None = None
    approve_command: str | None = None
    # The plan a decision-needed message shows: a click decides exactly this one (issue 17).
    plan_id: str | None = None
    plan_digest: str | None = None
    detail: str = ""


class NotifyResult(Artifact):
    delivered: list[str] = Field(default_factory=list, description="Notifier names that took it")
    failed: list[str] = Field(default_factory=list, description="'name: why' for each failure")
