"""Logging: JSON lines for machines, plain lines for a terminal, with incident and trace ids.

`INCIDENTFLOW_LOG_FORMAT=auto` (the default) writes plain text when stderr is a terminal and
JSON otherwise (a container, a log file, systemd). Each record carries the incident id when it
is logged from an incident workflow or one of its activities, and the current trace id.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from temporalio import activity, workflow

from incidentflow.visible import one_line, visible_json

# Attributes every LogRecord has; anything else was passed in `extra=` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def incident_id() -> str | None:
    """The incident (workflow id) the current activity or workflow works for, if any."""
    if activity.in_activity():
        wid = activity.info().workflow_id
    elif workflow.in_workflow():
        wid = workflow.info().workflow_id
    else:
        return None
    return wid if wid and wid.startswith("INC-") else None


def trace_id() -> str | None:
    """The current OpenTelemetry trace id as 32 hex digits, if a span is recording."""
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


class ContextFilter(logging.Filter):
    """Adds `incident_id` and `trace_id` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "incident_id"):
            record.incident_id = incident_id()
        if not hasattr(record, "trace_id"):
            record.trace_id = trace_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return visible_json(json.dumps(out, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """A line a person reads: time, level, logger, incident, message."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        inc = getattr(record, "incident_id", None)
        where = f" [{inc}]" if inc else ""
        # A message may quote an alert: its control characters must not drive the terminal.
        message = one_line(record.getMessage())
        line = f"{when} {record.levelname:<7} {record.name}{where}: {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """Route the root logger to stderr in the chosen format (auto, json or text)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
