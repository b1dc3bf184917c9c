"""Loki HTTP API as an evidence source: log lines from a LogQL range query per service.

The template is a LogQL log query with `{service}` where the (quoted-string escaped) service
name goes; its stream selector must carry the service, e.g. `{service="{service}"} |~ "error"`.
Each answer keeps the newest `LINES_PER_QUERY` lines. Nothing is contacted until the agent
asks; the client does not retry (Temporal owns retries).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import ValidationError

from incidentflow.errors import ConfigError, EvidenceUnavailable
from incidentflow.evidence import LogLevel, LogRecord
from incidentflow.sources.files import utc
from incidentflow.sources.live import LiveSource
from incidentflow.sources.placeholders import check, fill
from incidentflow.telemetry import evidence_span

DEFAULT_TEMPLATE = '{service="{service}"} |~ "(?i)error|exception|timeout|fatal|panic|warn"'
# Newest lines kept per service: enough for templates and rates, small for the activity.
LINES_PER_QUERY = 2000
HTTP_TIMEOUT_S = 10.0
# Most structured logs give their level under one of these names (label or JSON field).
_LEVEL_KEYS = ("level", "detected_level", "severity", "lvl")
_MESSAGE_KEYS = ("message", "msg")
_TRACE_KEYS = ("trace_id", "traceID", "traceId")
_LEVEL_NAMES: dict[str, LogLevel] = {
    "trace": LogLevel.DEBUG,
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "notice": LogLevel.INFO,
    "warn": LogLevel.WARNING,
    "warning": LogLevel.WARNING,
    "err": LogLevel.ERROR,
    "error": LogLevel.ERROR,
    "fatal": LogLevel.FATAL,
    "critical": LogLevel.FATAL,
    "crit": LogLevel.FATAL,
    "panic": LogLevel.FATAL,
    "emerg": LogLevel.FATAL,
    "alert": LogLevel.FATAL,
}
_LOGFMT_LEVEL = re.compile(r"\b(?:level|lvl|severity)=\"?(\w+)", re.IGNORECASE)
# Unlabelled text lines: the worst word wins, so a line the error filter kept reads as one.
_WORDS: list[tuple[re.Pattern[str], LogLevel]] = [
    (re.compile(r"\b(fatal|panic|critical)\b", re.IGNORECASE), LogLevel.FATAL),
    (re.compile(r"\b(error|err|exception|traceback|failed)\b", re.IGNORECASE), LogLevel.ERROR),
    (re.compile(r"\b(warn|warning|timeout|timed out)\b", re.IGNORECASE), LogLevel.WARNING),
    (re.compile(r"\bdebug\b", re.IGNORECASE), LogLevel.DEBUG),
]
# Attributes kept per line: investigation reads a few (service.version, peer.service).
MAX_ATTRIBUTES = 20


def logql(template: str, service: str) -> str:
    """The template with the service name escaped for a LogQL double-quoted string."""
    return fill(template, service=service)


def level_of(labels: dict[str, str], fields: dict[str, Any], line: str) -> LogLevel:
    """The level a label, a JSON field, a `level=` pair or, last, a word in the line says."""
    for source in (labels, fields):
        for key in _LEVEL_KEYS:
            named = _LEVEL_NAMES.get(str(source.get(key, "")).lower())
            if named is not None:
                return named
    found = _LOGFMT_LEVEL.search(line)
    if found and found.group(1).lower() in _LEVEL_NAMES:
        return _LEVEL_NAMES[found.group(1).lower()]
    return next((level for word, level in _WORDS if word.search(line)), LogLevel.INFO)


class LokiSource(LiveSource):
    """Log lines from Loki; no changes or metrics."""

    def __init__(
        self,
        base_url: str,
        *,
        template: str = DEFAULT_TEMPLATE,
        tenant: str | None = None,
        grafana_url: str | None = None,
        datasource: str = "loki",
        timeout_s: float = HTTP_TIMEOUT_S,
        name: str = "loki",
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"INCIDENTFLOW_LOKI_URL={base_url!r} must be an http(s) URL")
        check(template, setting="INCIDENTFLOW_LOKI_QUERY_TEMPLATE")
        self._base = base_url.rstrip("/")
        self._template = template
        self._headers = {"X-Scope-OrgID": tenant} if tenant else {}
        self._grafana = grafana_url.rstrip("/") if grafana_url else None
        self._datasource = datasource
        self._timeout = timeout_s
        self._name = name

    def link(self, query: str, start: datetime, end: datetime) -> str:
        """Grafana Explore on the query and window when configured, else Loki's own answer."""
        lo, hi = int(utc(start).timestamp() * 1000), int(utc(end).timestamp() * 1000)
        if self._grafana:
            pane = {
                "datasource": self._datasource,
                "queries": [
                    {
                        "refId": "A",
                        "expr": query,
                        "datasource": {"type": "loki", "uid": self._datasource},
                    }
                ],
                "range": {"from": str(lo), "to": str(hi)},
            }
            panes = json.dumps({"incidentflow": pane}, separators=(",", ":"))
            return f"{self._grafana}/explore?schemaVersion=1&panes={quote(panes)}"
        params = {"query": query, "start": f"{lo}000000", "end": f"{hi}000000"}
        return f"{self._base}/loki/api/v1/query_range?{urlencode(params)}"

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """One range query per service; lines below `min_level` are dropped, oldest first."""
        out: list[LogRecord] = []
        with httpx.Client(timeout=self._timeout, headers=self._headers) as http:
            for service in services:
                query = logql(self._template, service)
                link = self.link(query, start, end)
                for stream in self._query(http, query, start, end):
                    out.extend(
                        r
                        for r in _records(stream, service, link, self._base)
                        if r.level.rank >= min_level.rank
                    )
        return sorted(out, key=lambda r: (r.at, r.service))

    def _query(
        self, http: httpx.Client, query: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        params = {
            "query": query,
            "start": str(_ns(start)),
            "end": str(_ns(end)),
            "limit": str(LINES_PER_QUERY),
            "direction": "backward",
        }
        url = f"{self._base}/loki/api/v1/query_range"
        try:
            with evidence_span(self._name, query):
                resp = http.get(url, params=params)
        except httpx.HTTPError as err:
            raise EvidenceUnavailable(
                f"Loki at INCIDENTFLOW_LOKI_URL={self._base} did not answer: {err!r}"
            ) from err
        if resp.status_code == 400:
            raise ConfigError(
                f"Loki rejected INCIDENTFLOW_LOKI_QUERY_TEMPLATE as {query!r}: "
                f"{resp.text.strip()[:200]}"
            )
        if resp.status_code >= 300:
            raise EvidenceUnavailable(
                f"Loki at INCIDENTFLOW_LOKI_URL={self._base} answered {resp.status_code}"
            )
        try:
            data = resp.json()["data"]
            kind, result = data["resultType"], data["result"]
        except (ValueError, KeyError, TypeError) as err:
            raise EvidenceUnavailable(
                f"Loki at INCIDENTFLOW_LOKI_URL={self._base} sent no query_range answer: "
                f"{resp.text[:120]!r}"
            ) from err
        if kind != "streams":
            raise ConfigError(
                f"INCIDENTFLOW_LOKI_QUERY_TEMPLATE gives {kind!r}, not log lines: write a log "
                f"query (a stream selector and filters), not a metric query: {query!r}"
            )
        if not isinstance(result, list):
            raise EvidenceUnavailable(f"Loki at {self._base} sent streams that are not a list")
        return result


def _ns(at: datetime) -> int:
    """Loki's times are integer nanoseconds since the epoch."""
    aware = utc(at)
    return int(aware.timestamp()) * 1_000_000_000 + aware.microsecond * 1000


def _records(stream: Any, service: str, link: str, base: str) -> list[LogRecord]:
    try:
        labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
        values = stream["values"]
        out = [_record(labels, str(ts), str(line), service, link) for ts, line, *_ in values]
    except (AttributeError, KeyError, TypeError, ValueError, ValidationError) as err:
        raise EvidenceUnavailable(f"Loki at {base} sent a malformed stream: {err}") from err
    return out


def _record(labels: dict[str, str], ts: str, line: str, service: str, link: str) -> LogRecord:
    fields: dict[str, Any] = {}
    if line.startswith("{"):
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            parsed = None
        fields = parsed if isinstance(parsed, dict) else {}
    message = next((str(fields[k]) for k in _MESSAGE_KEYS if k in fields), line)
    trace = next((str(src[k]) for src in (labels, fields) for k in _TRACE_KEYS if k in src), None)
    skip = {"service", *_LEVEL_KEYS, *_MESSAGE_KEYS, *_TRACE_KEYS, "time", "ts", "timestamp"}
    attributes = {
        k: str(v)
        for k, v in [*labels.items(), *fields.items()]
        if k not in skip and isinstance(v, str | int | float | bool)
    }
    seconds, nanos = divmod(int(ts), 1_000_000_000)
    return LogRecord(
        at=datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000),
        service=service,
        level=level_of(labels, fields, line),
        message=message,
        trace_id=trace,
        attributes=dict(list(attributes.items())[:MAX_ATTRIBUTES]),
        link=link,
    )
