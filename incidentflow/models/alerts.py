"""Alerts as we normalize them, and what detection and correlation say about them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from incidentflow.models.base import Artifact, Engine, Severity
from incidentflow.models.llm import LlmUsage


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(Artifact):
    """One alert normalized from any wire format; `raw` keeps what the sender sent."""

    fingerprint: str = Field(description="Stable identity of the alert across deliveries")
    source: str = Field(description="Wire format it arrived in: alertmanager, grafana, ...")
    name: str
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None
    acknowledged: bool = Field(
        default=False, description="Acknowledged at the source (PagerDuty `acknowledge`)"
    )
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The human sentence for this alert: annotation summary, else its name."""
        return self.annotations.get("summary") or self.annotations.get("description") or self.name


class AlertBatch(Artifact):
    """Alerts accepted together at the edge; one signal to the stream workflow per batch."""

    batch_id: str = Field(description="Idempotency key: the same delivery twice has one id")
    environment: str
    received_at: datetime
    alerts: list[Alert]
    recent_transitions: dict[str, int] = Field(
        default_factory=dict,
        description="Status changes per fingerprint the stream saw in the flap window before",
    )


class AlertBatches(Artifact):
    """Batches of several deliveries committed to the stream in one signal (group commit).

    Each keeps its own id, so a redelivery of any one of them is still recognised.
    """

    batches: list[AlertBatch] = Field(min_length=1)


class Detection(Artifact):
    """Detection's verdict on one alert: what it is about and whether it matters."""

    alert: Alert
    service: str | None
    severity: Severity
    noise: bool = False
    flapping: bool = False
    reasons: list[str] = Field(description="Every decision with the rule that made it")
    engine: Engine = Engine.RULES


class DetectionResult(Artifact):
    detections: list[Detection]
    engine: Engine = Engine.RULES
    engine_reason: str = Field(
        default="", description="Why this engine answered, e.g. why an LLM answer was refused"
    )
    llm_usage: LlmUsage | None = Field(default=None, description="What the LLM engine spent")


class DependencyEdge(Artifact):
    """`caller` depends on `callee` in the service graph."""

    caller: str
    callee: str

    def __str__(self) -> str:
        return f"{self.caller} -> {self.callee}"


class DownstreamAlert(Artifact):
    """An alert that is a symptom of the origin service, with the path that explains it."""

    fingerprint: str
    service: str
    path: list[DependencyEdge] = Field(description="Edges from the alerting service to origin")
    explanation: str


class Duplicate(Artifact):
    fingerprint: str
    duplicate_of: str
    reason: str
