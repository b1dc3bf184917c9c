"""The webhook ASGI app: authenticate, parse, validate, normalize, batch, answer when durable.

`POST /v1/alerts/<source>` for every wire format in `formats.FORMATS`. Status codes a sender can
act on: 202 accepted (Temporal recorded it), 400 not JSON, 401 missing or wrong credentials,
403 a browser origin not allowed, 404 unknown source, 413 body too large, 415 not
`application/json`, 422 schema errors naming the fields, 503 with Retry-After when Temporal did
not accept the batch or is not reachable yet (every sender we take retries on 5xx). The app
starts without Temporal: it answers 503 until Temporal answers, and /readyz says why.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from incidentflow.errors import BadInput, IncidentFlowError, TemporalUnavailable
from incidentflow.ingest import auth, edge
from incidentflow.ingest.codec_server import codec_routes
from incidentflow.ingest.formats import FORMATS, WireFormat
from incidentflow.ingest.incidents import IncidentDesk, TemporalDesk
from incidentflow.ingest.openapi import openapi_document
from incidentflow.ingest.people import people_routes
from incidentflow.ingest.sink import TemporalSink
from incidentflow.metrics import IngestMetrics, process_meter
from incidentflow.models import Alert, AlertBatch
from incidentflow.partitions import PartitionLimit
from incidentflow.settings import Settings
from incidentflow.web import web_routes

log = logging.getLogger("incidentflow.ingest")

# Seconds a sender should wait before retrying when Temporal is unavailable.
RETRY_AFTER_S = 5
# Nesting deeper than any real alert payload; deeper bodies are refused before parsing work.
MAX_JSON_DEPTH = 64


class AlertSink(Protocol):
    """Where accepted batches go; `accept` returns only once the batch is durable."""

    async def accept(self, batch: AlertBatch) -> str: ...

    async def unready(self) -> str | None:
        """None when batches can be accepted now; else why not (for /readyz)."""
        ...


def partition_of(alert: Alert, labels: list[str], default: str) -> str:
    """The stream partition an alert belongs to: the first partition label set, else default."""
    for key in labels:
        if alert.labels.get(key):
            return alert.labels[key]
    return default


def problem(status: int, title: str, **extra: Any) -> JSONResponse:
    """A JSON error body; 503 carries Retry-After and 401 names the scheme."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="incidentflow"'}
    return JSONResponse({"error": title, **extra}, status_code=status, headers=headers)


def field_errors(err: ValidationError) -> list[dict[str, str]]:
    """One `{field, problem}` per invalid field, dotted paths, no URLs."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
        for e in err.errors(include_url=False)
    ][:50]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# Everything but quotes and brackets is dropped before counting; `[` `]` count as `{` `}`.
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_ALL_CURLY = bytes.maketrans(b"[]", b"{}")
# What is left of a JSON string once its escapes are gone: a quote, anything, a quote.
_STRING = re.compile(rb'"[^"]*"')
# A lone surrogate can only come from a \uD800-\uDFFF escape.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _depth_ok(body: bytes) -> bool:
    """False when brackets nest deeper than MAX_JSON_DEPTH (checked before json.loads).

    All at C speed: escaped backslashes, then escaped quotes go, so every string is a quote,
    anything, a quote; everything but quotes and brackets goes; then the strings. What is left
    are the structure's brackets: each pass removes the innermost pairs, and a document at
    most MAX_JSON_DEPTH deep is gone after that many passes. Unbalanced brackets are
    json.loads's to refuse.
    """
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two adjacent quotes have no bracket between them, so removing them leaves every bracket
    # with as many quotes before it as before, odd (in a string) or even: that takes away
    # nearly every string in one pass, and the regex sees only those holding brackets.
    reduced = plain.translate(_ALL_CURLY, _NOT_QUOTES_OR_BRACKETS).replace(b'""', b"")
    brackets = _STRING.sub(b"", reduced)
    for _ in range(MAX_JSON_DEPTH):
        inner = brackets.replace(b"{}", b"")
        if len(inner) == len(brackets):
            break
        brackets = inner
    return b"{}" not in brackets


def parse_json(body: bytes) -> Any:
    """The parsed body; BadInput for anything a JSON encoder of ours could not write back."""
    if not _depth_ok(body):
        raise BadInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        # pydantic-core's parser: about twice json.loads's speed, the same values (integers
        # past 64 bits exact), and it refuses NaN and lone surrogates as we do. What it
        # refuses goes to the standard library, which takes a BOM and words the error.
        return from_json(body, allow_inf_nan=False)
    except ValueError:
        pass
    try:
        data = json.loads(body, parse_constant=_reject_constant)
        if _SURROGATE_ESCAPE.search(body):
            # Lone surrogates parse but cannot be encoded again (Temporal payloads are UTF-8).
            json.dumps(data, ensure_ascii=False).encode()
    except (UnicodeError, ValueError, RecursionError) as err:
        raise BadInput(f"body is not JSON: {str(err)[:200]}") from err
    return data


def create_app(
    settings: Settings, sink: AlertSink, *, desk: IncidentDesk | None = None
) -> Starlette:
    """The ingest app; `sink` is the Temporal hand-off (a test may pass another).

    The decision API and the Slack endpoint (incidentflow/ingest/decisions.py) read and
    decide incidents through `desk`, by default the Temporal sink's own client.
    """
    counted = IngestMetrics(process_meter(settings.process))
    if desk is None and isinstance(sink, TemporalSink):
        desk = TemporalDesk(sink.client)
    partitions = PartitionLimit(limit=settings.ingest.max_partitions, default=settings.environment)

    async def read_body(request: Request) -> bytes | JSONResponse:
        if not edge.origin_allowed(request, settings.ingest.cors_origins):
            return problem(403, "browser origins may not post alerts (INCIDENTFLOW_CORS_ORIGINS)")
        wrong_type = edge.media_type_problem(request)
        if wrong_type:
            return problem(415, wrong_type)
        try:
            return await edge.read_limited(request, settings.ingest.max_body_bytes)
        except edge.TooLarge:
            return problem(413, f"body over {settings.ingest.max_body_bytes} bytes")

    async def receive(request: Request) -> JSONResponse:
        answer = await handle(request)
        source = request.path_params["source"]
        # Unknown sources share one label: a path must not mint a metric series per request.
        counted.answered(source if source in FORMATS else "unknown", answer.status_code)
        return answer

    async def handle(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        fmt = FORMATS.get(source)
        if fmt is None:
            return problem(404, f"unknown source {source!r}; one of {', '.join(FORMATS)}")
        read = await read_and_check(request, fmt)
        if isinstance(read, JSONResponse):
            return read
        payload, data, alerts, now = read
        answer = await deliver(alerts, lambda part: fmt.identity(payload, part, data), now)
        if fmt.source == "pagerduty" and answer.status_code == 202:
            # What a PagerDuty client expects back, next to our own fields.
            body = json.loads(bytes(answer.body))
            body.update(status="success", message="Event processed")
            body["dedup_key"] = alerts[0].fingerprint
            return JSONResponse(body, status_code=202)
        return answer

    async def read_and_check(
        request: Request, fmt: WireFormat
    ) -> JSONResponse | tuple[Any, Any, list[Alert], datetime]:
        """(validated model, parsed body, alerts, receipt time), or the 4xx that refuses it."""
        body = await read_body(request)
        if isinstance(body, JSONResponse):
            return body
        refused = auth.check(settings.ingest, fmt.source, dict(request.headers), body)
        if refused is not None:
            return problem(401, refused)
        try:
            data = parse_json(body)
        except BadInput as err:
            return problem(400, str(err))
        now = datetime.now(UTC)
        try:
            payload = fmt.model.model_validate(data)
            alerts = fmt.normalize(payload, now, data)
        except ValidationError as err:
            return problem(422, f"not a valid {fmt.title} payload", fields=field_errors(err))
        except (ValueError, RecursionError, OverflowError) as err:
            return problem(422, f"not a valid {fmt.title} payload: {str(err)[:200]}")
        return payload, data, alerts, now

    async def deliver(
        alerts: list[Alert], identity: Callable[[str], str], now: datetime
    ) -> JSONResponse:
        by_partition: dict[str, list[Alert]] = {}
        for alert in alerts:
            part = partitions.route(
                partition_of(alert, settings.ingest.partition_labels, settings.environment)
            )
            by_partition.setdefault(part, []).append(alert)
        accepted: list[dict[str, Any]] = []
        for partition, group in sorted(by_partition.items()):
            batch = AlertBatch(
                batch_id=identity(partition), environment=partition, received_at=now, alerts=group
            )
            try:
                stream = await sink.accept(batch)
            except BadInput as err:
                return problem(413, str(err), accepted_before_failure=accepted)
            except TemporalUnavailable as err:
                log.warning("503 for batch %s: %s", batch.batch_id, err)
                return problem(
                    503,
                    "Temporal did not accept the batch; retry later",
                    detail=str(err),
                    accepted_before_failure=accepted,
                )
            except IncidentFlowError as err:
                # A limit of the stream (e.g. how many partitions one delivery may reach):
                # the sender reads why; retrying the same body cannot help.
                return problem(422, str(err), accepted_before_failure=accepted)
            accepted.append({"batch_id": batch.batch_id, "stream": stream, "alerts": len(group)})
            counted.received(group[0].source, len(group))
        return JSONResponse({"accepted": accepted}, status_code=202)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        why = await sink.unready()
        if why is None:
            return JSONResponse({"status": "ready", "temporal": settings.temporal.target})
        return problem(503, f"not ready: {why}", temporal=settings.temporal.target)

    document = openapi_document()

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(document)

    return Starlette(
        routes=[
            Route("/v1/alerts/{source}", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *codec_routes(settings),
            *(people_routes(settings, desk) if desk is not None else []),
            # The incident list and page (issue 20), on the same decision service.
            *(
                web_routes(settings, desk, sink.client if isinstance(sink, TemporalSink) else None)
                if desk is not None
                else []
            ),
        ]
    )
