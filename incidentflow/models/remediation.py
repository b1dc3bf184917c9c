"""Remediation's artifacts: a typed action from the catalog, the decision, the outcome."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incidentflow.models.base import Artifact, Engine
from incidentflow.models.incident import Incident
from incidentflow.models.investigation import Investigation


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RollbackParams(Artifact):
    kind: Literal["rollback"] = "rollback"
    service: str
    from_version: str
    to_version: str


class RestartParams(Artifact):
    kind: Literal["restart"] = "restart"
    service: str


class ScaleParams(Artifact):
    kind: Literal["scale"] = "scale"
    service: str
    from_replicas: int = Field(ge=0)
    to_replicas: int = Field(ge=0)


class FeatureFlagParams(Artifact):
    kind: Literal["feature_flag"] = "feature_flag"
    flag: str
    from_value: bool
    to_value: bool


ActionParams = Annotated[
    RollbackParams | RestartParams | ScaleParams | FeatureFlagParams,
    Field(discriminator="kind"),
]


class VerifyKind(StrEnum):
    ALERTS_RESOLVED = "alerts_resolved"


class VerifySpec(Artifact):
    """How to tell the action helped: a condition and how long to wait for it."""

    kind: VerifyKind = VerifyKind.ALERTS_RESOLVED
    window_seconds: int = Field(default=600, gt=0)
    description: str


class RemediationAction(Artifact):
    """A specific, reversible action: typed params, risk, how to verify, how to undo."""

    id: str = Field(description="Idempotency key of the action: executed at most once")
    incident_id: str
    params: ActionParams
    risk: Risk
    summary: str
    verify: VerifySpec
    undo: ActionParams
    undo_summary: str
    executor: str = "dry-run"


class PlanInput(Artifact):
    incident: Incident
    investigation: Investigation


class RemediationPlan(Artifact):
    incident_id: str
    action: RemediationAction | None
    alternatives: list[RemediationAction] = Field(default_factory=list)
    rationale: str
    evidence_ids: list[str] = Field(default_factory=list)
    engine: Engine = Engine.RULES


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class DecisionRequest(Artifact):
    """What a person sends with approve or reject."""

    by: str = Field(min_length=1)
    reason: str = ""


class Approval(Artifact):
    decision: Decision
    by: str
    at: datetime
    reason: str = ""


class ActionStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    ALREADY_DONE = "already_done"


class ExecuteInput(Artifact):
    action: RemediationAction
    undo: bool = False


class ActionResult(Artifact):
    action_id: str
    undo: bool = False
    status: ActionStatus
    executor: str
    dry_run: bool
    would_run: list[str] = Field(description="Exactly what was (or would have been) done")
    output: str = ""
    executed_at: datetime


class VerificationStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verification(Artifact):
    action_id: str
    status: VerificationStatus
    checked_at: datetime
    detail: str
