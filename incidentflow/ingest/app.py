"""The webhook ASGI app: parse, validate, normalize, batch, and answer 2xx only when durable.

Status codes a sender can act on: 202 accepted (Temporal recorded it), 400 not JSON,
413 body too large, 422 schema errors naming the fields, 503 with Retry-After when Temporal
did not accept the batch (Alertmanager and most senders retry on 5xx).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from incidentflow.errors import TemporalUnavailable
from incidentflow.ingest.alertmanager import AlertmanagerWebhook, batch_identity, normalize
from incidentflow.models import Alert, AlertBatch
from incidentflow.settings import Settings

log = logging.getLogger("incidentflow.ingest")

# Seconds a sender should wait before retrying when Temporal is unavailable.
RETRY_AFTER_S = 5
PARTITION_LABELS = ("environment", "env")


class AlertSink(Protocol):
    """Where accepted batches go; `accept` returns only once the batch is durable."""

    async def accept(self, batch: AlertBatch) -> str: ...

    async def ready(self) -> bool: ...


def partition_of(alert: Alert, default: str) -> str:
    """The stream partition an alert belongs to: its environment label, else the default."""
    for key in PARTITION_LABELS:
        if alert.labels.get(key):
            return alert.labels[key]
    return default


def _problem(status: int, title: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": title, **extra}, status_code=status, headers=headers)


def _field_errors(err: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
        for e in err.errors(include_url=False)
    ]


def create_app(settings: Settings, sink: AlertSink) -> Starlette:
    """The ingest app; `sink` is the Temporal hand-off (a test may pass another)."""

    async def read_json(request: Request) -> Any | JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _problem(413, f"body over {settings.max_body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                return _problem(413, f"body over {settings.max_body_bytes} bytes")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return _problem(400, f"body is not JSON: {err}")

    async def alertmanager(request: Request) -> JSONResponse:
        data = await read_json(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            payload = AlertmanagerWebhook.model_validate(data)
        except ValidationError as err:
            return _problem(
                422, "not an Alertmanager v4 webhook payload", fields=_field_errors(err)
            )
        return await deliver(normalize(payload), lambda part: batch_identity(payload, part))

    async def deliver(alerts: list[Alert], identity: Callable[[str], str]) -> JSONResponse:
        by_partition: dict[str, list[Alert]] = {}
        for alert in alerts:
            by_partition.setdefault(partition_of(alert, settings.environment), []).append(alert)
        accepted: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for partition, group in sorted(by_partition.items()):
            batch = AlertBatch(
                batch_id=identity(partition),
                environment=partition,
                received_at=now,
                alerts=group,
            )
            try:
                stream = await sink.accept(batch)
            except TemporalUnavailable as err:
                log.warning("503 for batch %s: %s", batch.batch_id, err)
                return _problem(
                    503,
                    "Temporal did not accept the batch; retry later",
                    detail=str(err),
                    accepted_before_failure=accepted,
                )
            accepted.append({"batch_id": batch.batch_id, "stream": stream, "alerts": len(group)})
        return JSONResponse({"accepted": accepted}, status_code=202)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        if await sink.ready():
            return JSONResponse({"status": "ready", "temporal": settings.target})
        return _problem(503, f"Temporal at {settings.target} is not reachable")

    handler = Callable[[Request], Awaitable[JSONResponse]]
    routes: list[tuple[str, handler, list[str]]] = [
        ("/v1/alerts/alertmanager", alertmanager, ["POST"]),
        ("/healthz", healthz, ["GET"]),
        ("/readyz", readyz, ["GET"]),
    ]
    return Starlette(routes=[Route(path, fn, methods=m) for path, fn, m in routes])
