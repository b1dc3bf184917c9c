"""Prometheus Alertmanager webhook payload, version 4, faithfully; and its normalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from incidentflow.ingest.common import ZERO_TIME, WireTime, canonical_id, label_fingerprint
from incidentflow.models import Alert

__all__ = [
    "AlertmanagerAlert",
    "AlertmanagerWebhook",
    "batch_identity",
    "label_fingerprint",
    "normalize",
]


_ALERTS = TypeAdapter(list[Alert])


class AlertmanagerAlert(BaseModel):
    """One alert inside an Alertmanager notification."""

    # Alertmanager may add fields in later versions; keep them rather than refuse the batch.
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: WireTime
    endsAt: WireTime | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class AlertmanagerWebhook(BaseModel):
    """The JSON body of Alertmanager's webhook receiver (`version: "4"`)."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


def normalize(payload: AlertmanagerWebhook, body: Any = None) -> list[Alert]:
    """Our `Alert`s from one notification; `raw` keeps each alert exactly as sent."""
    return normalize_alerts(payload.alerts, source="alertmanager", raws=sent_alerts(body))


def sent_alerts(body: Any) -> list[Any] | None:
    """The alerts as the sender wrote them, from the parsed body the model was validated from."""
    alerts = body.get("alerts") if isinstance(body, dict) else None
    return alerts if isinstance(alerts, list) else None


def normalize_alerts(
    items: Sequence[AlertmanagerAlert], *, source: str, raws: Sequence[Any] | None = None
) -> list[Alert]:
    """Alerts in Alertmanager's alert shape (Alertmanager's, and Grafana's, which extends it).

    `raws`, the same alerts as parsed from the body, become `raw` as they are (no second
    serialization of every alert on the hot path); without them the model is dumped.
    """
    if raws is None or len(raws) != len(items):
        raws = [item.model_dump(mode="json") for item in items]
    # One validation call for the whole list: a storm's bodies carry hundreds of alerts.
    return _ALERTS.validate_python(
        [
            {
                "fingerprint": item.fingerprint or label_fingerprint(item.labels),
                "source": source,
                "name": item.labels.get("alertname", "unnamed"),
                "status": item.status,
                "labels": item.labels,
                "annotations": item.annotations,
                "starts_at": item.startsAt,
                "ends_at": item.endsAt if item.endsAt and item.endsAt > ZERO_TIME else None,
                "generator_url": item.generatorURL or None,
                "raw": raw,
            }
            for item, raw in zip(items, raws, strict=True)
        ]
    )


def batch_identity(payload: AlertmanagerWebhook, partition: str, body: Any = None) -> str:
    """Idempotency key of one delivery: the same notification sent again gives the same id.

    It covers the whole notification, sender metadata included, so a retry of the same POST is
    recognised at the stream, while the same alert sent by the other Alertmanager of an HA pair
    reaches correlation, which records it as a duplicate of the alert it repeats.
    """
    sent = body if isinstance(body, dict) else payload.model_dump(mode="json")
    return canonical_id("am", partition, sent)
