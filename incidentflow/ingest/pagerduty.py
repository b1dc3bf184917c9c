"""PagerDuty Events API v2 (`trigger`, `acknowledge`, `resolve`, keyed by `dedup_key`).

One event per request, as PagerDuty's own endpoint takes them. `dedup_key` is the alert's
identity: a trigger without one gets a key derived from its payload (PagerDuty makes one up and
returns it; we return ours the same way), and `acknowledge`/`resolve` must name one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incidentflow.ingest.common import WireTime, as_utc, canonical_id, label_fingerprint
from incidentflow.models import Alert, AlertStatus


class PagerDutyPayload(BaseModel):
    """The `payload` object of a trigger event."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: WireTime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class PagerDutyLink(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    text: str = ""


class PagerDutyEvent(BaseModel):
    """One Events API v2 request body."""

    model_config = ConfigDict(extra="forbid")

    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: PagerDutyPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[PagerDutyLink] = Field(default_factory=list)
    images: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _required_by_action(self) -> Self:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("payload is required when event_action is trigger")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError(f"dedup_key is required when event_action is {self.event_action}")
        return self


def dedup_key_of(event: PagerDutyEvent) -> str:
    """The alert identity: the sender's `dedup_key`, else one derived from the trigger."""
    if event.dedup_key:
        return event.dedup_key
    p = event.payload
    labels = {"source": p.source, "summary": p.summary} if p else {}
    return label_fingerprint({"routing_key": event.routing_key, **labels})


def labels_of(event: PagerDutyEvent) -> dict[str, str]:
    """Labels in the Alertmanager sense: what correlation and detection match on."""
    p = event.payload
    if p is None:
        return {}
    labels = {"alertname": p.summary[:200], "severity": p.severity, "instance": p.source}
    if p.component:
        labels["service"] = p.component
    if p.group:
        labels["group"] = p.group
    if p.class_:
        labels["class"] = p.class_
    if isinstance(p.custom_details, dict):
        # Flat string details are how PagerDuty users usually carry environment or team.
        for key, value in p.custom_details.items():
            if isinstance(value, str) and key not in labels and len(labels) < 64:
                labels[key] = value
    return labels


def normalize(event: PagerDutyEvent, received_at: datetime) -> list[Alert]:
    """One `Alert`: trigger is firing, resolve is resolved, acknowledge marks it acknowledged."""
    p = event.payload
    labels = labels_of(event)
    starts_at = as_utc(p.timestamp if p and p.timestamp else received_at)
    return [
        Alert(
            fingerprint=dedup_key_of(event),
            source="pagerduty",
            name=labels.get("alertname", f"pagerduty {event.event_action}"),
            status=AlertStatus.RESOLVED if event.event_action == "resolve" else AlertStatus.FIRING,
            acknowledged=event.event_action == "acknowledge",
            labels=labels,
            annotations={"summary": p.summary} if p else {},
            starts_at=starts_at,
            ends_at=received_at if event.event_action == "resolve" else None,
            generator_url=event.client_url,
            # The routing key is the integration's credential: never into workflow history.
            raw=event.model_dump(mode="json", by_alias=True) | {"routing_key": "<redacted>"},
        )
    ]


def batch_identity(event: PagerDutyEvent, partition: str) -> str:
    """The same event sent again (same action, key and payload) has the same id."""
    body = event.model_dump(mode="json", by_alias=True)
    body["dedup_key"] = dedup_key_of(event)
    return canonical_id("pd", partition, body)
