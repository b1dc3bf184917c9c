"""Log lines: JSON with the trace id for machines, plain text for people."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from incidentflow.logs import ContextFilter, JsonFormatter, TextFormatter


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "incidentflow.test", "levelname": "WARNING", "msg": msg})
    rec.__dict__.update(extra)
    ContextFilter().filter(rec)
    return rec


def test_json_line_carries_trace_id_and_extras() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        line = JsonFormatter().format(record("batch %s accepted", batch="am-1"))
        expected_trace = f"{span.get_span_context().trace_id:032x}"
    data = json.loads(line)
    assert data["message"] == "batch %s accepted"
    assert data["level"] == "warning" and data["logger"] == "incidentflow.test"
    assert data["trace_id"] == expected_trace
    assert data["batch"] == "am-1"


def test_outside_a_span_and_a_workflow_there_are_no_ids() -> None:
    data = json.loads(JsonFormatter().format(record("plain")))
    assert "trace_id" not in data and "incident_id" not in data


def test_text_line_names_the_incident() -> None:
    line = TextFormatter().format(record("verifying", incident_id="INC-20261125-abcdef"))
    assert "[INC-20261125-abcdef]" in line and "WARNING" in line and line.endswith("verifying")
