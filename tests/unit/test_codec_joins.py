"""The payload codec and the incident timeline's join lines."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.common.v1 import Payload

from incidentflow.codec import COMPRESS_OVER_BYTES, ENCODING, decode_one, encode_one
from incidentflow.models import Alert, AlertStatus, IncidentUpdate
from workflows.joins import LISTED_PER_ROUND, join_summaries


def test_large_payloads_are_compressed_and_come_back_identical() -> None:
    data = b'{"labels": {"alertname": "HighErrorRate", "service": "checkout"}}' * 2000
    plain = Payload(metadata={"encoding": b"json/plain"}, data=data)
    packed = encode_one(plain)
    assert packed.metadata["encoding"] == ENCODING
    assert packed.ByteSize() < plain.ByteSize() / 10
    assert decode_one(packed) == plain


def test_small_and_foreign_payloads_pass_through() -> None:
    small = Payload(metadata={"encoding": b"json/plain"}, data=b"{}" * 10)
    assert small.ByteSize() < COMPRESS_OVER_BYTES
    assert encode_one(small) is small
    foreign = Payload(metadata={"encoding": b"binary/encrypted"}, data=b"x" * 100_000)
    assert decode_one(foreign) is foreign


def alert(i: int, status: AlertStatus = AlertStatus.FIRING) -> Alert:
    return Alert(
        fingerprint=f"fp{i}",
        source="alertmanager",
        name=f"Alert{i}",
        status=status,
        labels={"service": f"svc{i % 3}"},
        starts_at=datetime(2026, 11, 25, tzinfo=UTC),
    )


def test_each_joined_alert_gets_its_own_reason() -> None:
    update = IncidentUpdate(
        incident_id="INC-1",
        alerts=[alert(1), alert(2)],
        reasons=["Alert1 joined INC-1: svc1 is 1 hop from db", "Alert2 joined INC-1: x"],
    )
    lines = join_summaries(update, {})
    assert lines == [
        "alert joined: Alert1 on svc1 (Alert1 joined INC-1: svc1 is 1 hop from db)",
        "alert joined: Alert2 on svc2 (Alert2 joined INC-1: x)",
    ]


def test_a_storm_round_is_listed_briefly_and_summarized() -> None:
    alerts = [alert(i) for i in range(500)]
    update = IncidentUpdate(
        incident_id="INC-1", alerts=alerts, reasons=[f"Alert{i} joined" for i in range(500)]
    )
    known = {a.fingerprint: a for a in alerts[:100]}
    known["fp3"] = alert(3, AlertStatus.RESOLVED)
    lines = join_summaries(update, known)
    assert len(lines) == LISTED_PER_ROUND + 1
    assert lines[0] == "alert firing: Alert3 (Alert3 joined)"
    assert lines[-1].startswith(f"{401 - LISTED_PER_ROUND} more alert(s) joined")
    assert "svc0, svc1, svc2" in lines[-1]
    # Known alerts whose status did not change are not news.
    assert join_summaries(update.model_copy(update={"alerts": alerts[5:8]}), known) == []
