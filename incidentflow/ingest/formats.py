"""The wire formats the webhook takes, one entry per `POST /v1/alerts/<source>`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from incidentflow.ingest import alertmanager, generic, grafana, pagerduty
from incidentflow.models import Alert


@dataclass(frozen=True)
class WireFormat:
    """How to read one sender's body: its model, normalization and delivery identity."""

    source: str
    title: str
    model: type[BaseModel]
    # (validated model, receipt time, the parsed body it was validated from)
    normalize: Callable[[Any, datetime, Any], list[Alert]]
    # (validated model, partition, the parsed body) -> the delivery's idempotency key
    identity: Callable[[Any, str, Any], str]


FORMATS: dict[str, WireFormat] = {
    f.source: f
    for f in (
        WireFormat(
            "alertmanager",
            "Prometheus Alertmanager webhook (version 4)",
            alertmanager.AlertmanagerWebhook,
            lambda p, _now, body: alertmanager.normalize(p, body),
            alertmanager.batch_identity,
        ),
        WireFormat(
            "grafana",
            "Grafana alerting webhook contact point",
            grafana.GrafanaWebhook,
            lambda p, _now, body: grafana.normalize(p, body),
            grafana.batch_identity,
        ),
        WireFormat(
            "pagerduty",
            "PagerDuty Events API v2 event",
            pagerduty.PagerDutyEvent,
            lambda p, now, _body: pagerduty.normalize(p, now),
            lambda p, part, _body: pagerduty.batch_identity(p, part),
        ),
        WireFormat(
            "generic",
            "IncidentFlow generic JSON",
            generic.GenericPayload,
            lambda p, now, _body: generic.normalize(p, now),
            lambda p, part, _body: generic.batch_identity(p, part),
        ),
    )
}
