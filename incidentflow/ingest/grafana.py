"""Grafana alerting's webhook contact point payload (unified alerting, `version: "1"`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.ingest.alertmanager import AlertmanagerAlert, normalize_alerts, sent_alerts
from incidentflow.ingest.common import canonical_id
from incidentflow.models import Alert


class GrafanaAlert(AlertmanagerAlert):
    """One alert inside a Grafana notification: Alertmanager's alert shape, plus Grafana's
    links and values (Grafana adds fields between releases; extra fields are kept)."""

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


def normalize(payload: GrafanaWebhook, body: Any = None) -> list[Alert]:
    """Our `Alert`s from one Grafana notification; `raw` keeps each alert as sent."""
    return normalize_alerts(payload.alerts, source="grafana", raws=sent_alerts(body))


def batch_identity(payload: GrafanaWebhook, partition: str, body: Any = None) -> str:
    """The same notification delivered again has the same id (Grafana retries on 5xx).

    Over the body as parsed (`body`), which is what was sent; else the validated model.
    """
    sent = body if isinstance(body, dict) else payload.model_dump(mode="json")
    return canonical_id("gf", partition, sent)
