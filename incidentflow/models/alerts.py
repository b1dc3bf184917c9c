"""Alerts as we normalize them, and what detection and correlation say about them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from incidentflow.models.base import Artifact, Engine, Severity
from incidentflow.models.llm import LlmUsage


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


# What every accepted alert must satisfy so that every agent can process it (issue 14: one
# alert dated year 1 with an offset failed correlation for good and stalled its stream). Times
# outside these years cannot come from a monitoring system, and the agents' window arithmetic
# (minus a group window, plus a settle window) stays inside datetime's range.
MIN_YEAR = 1970
MAX_YEAR = 2200
# Sizes: a batch of alerts rides in one signal and in activity payloads (2 MB each); one
# annotation of megabytes would make every round that carries it unschedulable.
MAX_NAME = 256
MAX_LABELS = 128
MAX_LABEL_VALUE = 4096
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_VALUE = 16_384
MAX_URL = 4096


def sane_time(at: datetime) -> datetime:
    """`at` as an aware UTC time, refused outside MIN_YEAR..MAX_YEAR.

    Checked before converting: year 1 with a positive offset has no UTC representation.
    A naive time is taken as UTC, so every alert time compares with every other.
    """
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise ValueError(f"time {at.isoformat()} is outside {MIN_YEAR}..{MAX_YEAR}")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


AlertTime = Annotated[datetime, AfterValidator(sane_time)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE)]
AnnotationValue = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION_VALUE)]


class Alert(Artifact):
    """One alert normalized from any wire format; `raw` keeps what the sender sent.

    Its checks make every accepted alert processable: the edge answers 422 naming the field.
    """

    fingerprint: Name = Field(description="Stable identity of the alert across deliveries")
    source: Name = Field(description="Wire format it arrived in: alertmanager, grafana, ...")
    name: Name
    status: AlertStatus
    labels: dict[Name, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)
    annotations: dict[Name, AnnotationValue] = Field(
        default_factory=dict, max_length=MAX_ANNOTATIONS
    )
    starts_at: AlertTime
    ends_at: AlertTime | None = None
    generator_url: Annotated[str, StringConstraints(max_length=MAX_URL)] | None = None
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
