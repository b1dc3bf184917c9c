"""Grafana alerting's webhook contact point payload (unified alerting, `version: "1"`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.ingest.common import ZERO_TIME, canonical_id, label_fingerprint
from incidentflow.models import Alert, AlertStatus


class GrafanaAlert(BaseModel):
    """One alert inside a Grafana notification."""

    # Grafana adds fields between releases (imageURL, orgId...): keep them, never refuse.
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""
    silenceURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    values: dict[str, float | None] | None = None
    valueString: str = ""


class GrafanaWebhook(BaseModel):
    """The JSON body Grafana's webhook contact point sends."""

    model_config = ConfigDict(extra="allow")

    receiver: str = ""
    status: Literal["firing", "resolved"]
    orgId: int = 0
    alerts: list[GrafanaAlert] = Field(min_length=1)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    version: str = "1"
    groupKey: str = ""
    truncatedAlerts: int = 0
    title: str = ""
    state: str = ""
    message: str = ""


def normalize(payload: GrafanaWebhook) -> list[Alert]:
    """Our `Alert`s from one Grafana notification; `raw` keeps each alert as sent."""
    return [
        Alert(
            fingerprint=item.fingerprint or label_fingerprint(item.labels),
            source="grafana",
            name=item.labels.get("alertname", "unnamed"),
            status=AlertStatus(item.status),
            labels=item.labels,
            annotations=item.annotations,
            starts_at=item.startsAt,
            ends_at=item.endsAt if item.endsAt and item.endsAt > ZERO_TIME else None,
            generator_url=item.generatorURL or None,
            raw=item.model_dump(mode="json"),
        )
        for item in payload.alerts
    ]


def batch_identity(payload: GrafanaWebhook, partition: str) -> str:
    """The same notification delivered again has the same id (Grafana retries on 5xx)."""
    return canonical_id("gf", partition, payload.model_dump(mode="json"))
