"""The webhook's storm hot path gives the same answers as the plain way it replaced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json
from temporalio.common import RawValue

from incidentflow.errors import BadInput
from incidentflow.ingest import alertmanager
from incidentflow.ingest.app import MAX_JSON_DEPTH, _depth_ok, parse_json
from incidentflow.ingest.common import canonical_id
from incidentflow.ingest.sink import signal_payload
from incidentflow.models import Alert, AlertBatch, AlertBatches, AlertStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def depth(value: Any) -> int:
    """Bracket nesting of a parsed JSON value, the plain recursive way."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


# Strings full of what could confuse a bracket counter: brackets, quotes, backslashes.
tricky = st.text(alphabet='[]{}"\\ab:,', max_size=6)
documents = st.recursive(
    st.none() | st.integers() | tricky,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky, inner, max_size=3),
    max_leaves=40,
)


def chain(levels: int) -> Any:
    """`levels` containers nested, with bracket-laden strings at every level."""
    value: Any = "]}"
    for n in range(levels):
        value = [value, '"[{'] if n % 2 else {'k"]': value}
    return value


@settings(max_examples=2000, deadline=None)
@given(documents, st.booleans())
def test_depth_check_agrees_with_the_parsed_depth(doc: Any, ascii_only: bool) -> None:
    body = json.dumps(doc, ensure_ascii=ascii_only).encode()
    assert _depth_ok(body) == (depth(doc) <= MAX_JSON_DEPTH)


def test_depth_check_at_the_limit() -> None:
    for levels in (MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 500):
        body = json.dumps(chain(levels)).encode()
        assert _depth_ok(body) == (levels <= MAX_JSON_DEPTH), levels


def alert(n: int, **extra: Any) -> Alert:
    return Alert(
        fingerprint=f"fp{n}",
        source="alertmanager",
        name="HighErrorRate",
        status=AlertStatus.RESOLVED if n % 2 else AlertStatus.FIRING,
        labels={"alertname": "HighErrorRate", "service": "checkout", "ünïcode": "✓"},
        annotations={"summary": 'p99 "quoted" \\ over 2s'},
        starts_at=NOW - timedelta(minutes=n),
        ends_at=NOW.replace(microsecond=0) if n % 2 else None,
        generator_url=None if n % 3 else "http://prometheus/graph",
        acknowledged=bool(n % 5 == 0),
        raw={"labels": {"a": "b"}, "values": [1.5, None, True, 10**18], "nested": {"x": []}},
        **extra,
    )


def batch(n: int, size: int) -> AlertBatch:
    return AlertBatch(
        batch_id=f"am-{n}",
        environment="prod",
        received_at=NOW,
        alerts=[alert(i) for i in range(size)],
        recent_transitions={"fp1": 2} if n % 2 else {},
    )


def test_signal_payload_is_byte_for_byte_what_the_converter_writes() -> None:
    one = batch(1, 7)
    many = AlertBatches(batches=[batch(n, 3) for n in range(4)])
    # Another offset than UTC and a naive time are written as pydantic writes them, too.
    odd = one.model_copy(update={"received_at": NOW.astimezone(timezone(timedelta(hours=2)))})
    naive = one.model_copy(update={"received_at": NOW.replace(tzinfo=None)})
    for arg in (one, many, odd, naive):
        payload = signal_payload(arg)
        assert isinstance(payload, RawValue)
        assert payload.payload.metadata["encoding"] == b"json/plain"
        assert payload.payload.data == to_json(arg)
        assert type(arg).model_validate_json(payload.payload.data) == arg


def test_signal_payload_leaves_what_orjson_cannot_write_to_the_converter() -> None:
    huge = batch(2, 1)
    huge = huge.model_copy(update={"alerts": [alert(0).model_copy(update={"raw": {"n": 10**30}})]})
    assert signal_payload(huge) is huge


def test_delivery_ids_are_canonical_over_the_parsed_body() -> None:
    body = {"b": [1, {"y": "ü", "x": 2}], "a": "z"}
    reordered = json.loads('{"a": "z", "b": [1, {"x": 2, "y": "ü"}]}')
    assert canonical_id("am", "prod", body) == canonical_id("am", "prod", reordered)
    assert canonical_id("am", "prod", body) != canonical_id("am", "stage", body)
    # Integers past 64 bits take the standard library's way, the same way every time.
    big = {"n": 10**30}
    assert canonical_id("gen", "prod", big) == canonical_id("gen", "prod", dict(big))


def test_identity_uses_the_body_as_sent_and_falls_back_to_the_model() -> None:
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "incidentflow",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "service": "api"},
                "startsAt": "2026-01-02T03:00:00Z",
            }
        ],
    }
    payload = alertmanager.AlertmanagerWebhook.model_validate(body)
    sent = alertmanager.batch_identity(payload, "prod", body)
    assert sent == alertmanager.batch_identity(payload, "prod", json.loads(json.dumps(body)))
    assert sent.startswith("am-") and alertmanager.batch_identity(payload, "prod").startswith("am-")
    (normalized,) = alertmanager.normalize(payload, body)
    assert normalized.raw == body["alerts"][0] and normalized.ends_at is None


@settings(max_examples=500, deadline=None)
@given(documents, st.booleans())
def test_parsing_gives_what_the_standard_library_gives(doc: Any, ascii_only: bool) -> None:
    body = json.dumps(doc, ensure_ascii=ascii_only).encode()
    assert parse_json(body) == json.loads(body)


def test_what_the_fast_parser_refuses_the_standard_one_judges() -> None:
    assert parse_json(b"\xef\xbb\xbf{}") == {}  # a BOM: the standard library takes it
    assert parse_json(b"[18446744073709551616123]") == [18446744073709551616123]
    for bad in (b'{"a": NaN}', b'{"a": "\\ud800"}', b"{oops"):
        with pytest.raises(BadInput):
            parse_json(bad)
