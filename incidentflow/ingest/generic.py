"""The generic JSON format, for any sender without its own (documented in docs/ingest.md).

```json
{"alerts": [{"name": "DiskFull", "status": "firing", "labels": {"service": "db"},
             "annotations": {"summary": "..."}, "starts_at": "2026-01-01T00:00:00Z"}]}
```

Strict: unknown fields are refused (422), so a typo is caught at the edge, not in an incident.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.ingest.common import WireTime, as_utc, canonical_id, label_fingerprint
from incidentflow.models import Alert, AlertStatus


class GenericAlert(BaseModel):
    """One alert: a name, labels to match on, and when it started (default: on receipt)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512)
    status: AlertStatus = AlertStatus.FIRING
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: WireTime | None = None
    ends_at: WireTime | None = None
    fingerprint: str | None = Field(
        default=None, max_length=255, description="Identity across deliveries; default: labels"
    )
    generator_url: str | None = None


class GenericPayload(BaseModel):
    """The body of `POST /v1/alerts/generic`."""

    model_config = ConfigDict(extra="forbid")

    alerts: list[GenericAlert] = Field(min_length=1)


def normalize(payload: GenericPayload, received_at: datetime) -> list[Alert]:
    """Our `Alert`s; an alert without `starts_at` started when we received it."""
    alerts: list[Alert] = []
    for item in payload.alerts:
        labels = {"alertname": item.name, **item.labels}
        alerts.append(
            Alert(
                fingerprint=item.fingerprint or label_fingerprint(labels),
                source="generic",
                name=item.name,
                status=item.status,
                labels=labels,
                annotations=item.annotations,
                starts_at=as_utc(item.starts_at or received_at),
                ends_at=as_utc(item.ends_at) if item.ends_at else None,
                generator_url=item.generator_url,
                raw=item.model_dump(mode="json"),
            )
        )
    return alerts


def batch_identity(payload: GenericPayload, partition: str) -> str:
    """The same body sent again has the same id."""
    return canonical_id("gen", partition, payload.model_dump(mode="json"))
