"""Lone warnings held for the group window: re-correlated, superseded, expired, rescued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertStatus,
    CorrelationResult,
    Detection,
    Severity,
)
from workflows.stream_index import QUIET_HOLD, QUIET_KEPT, quiet_to_refeed, settle_quiet

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def det(fp: str, started: datetime = NOW) -> Detection:
    alert = Alert(
        fingerprint=fp,
        source="alertmanager",
        name=f"Alert-{fp}",
        status=AlertStatus.FIRING,
        starts_at=started,
    )
    return Detection(alert=alert, service="db", severity=Severity.WARNING, reasons=[])


def batch(*dets: Detection) -> AlertBatch:
    return AlertBatch(
        batch_id="b", environment="e", received_at=NOW, alerts=[d.alert for d in dets]
    )


def test_held_alerts_come_back_unless_expired_or_delivered_again() -> None:
    quiet = {
        "old": det("old", NOW - QUIET_HOLD - timedelta(seconds=1)),
        "kept": det("kept", NOW - timedelta(minutes=3)),
        "again": det("again"),
    }
    refed = quiet_to_refeed(quiet, batch(det("again")), NOW)
    assert [d.alert.fingerprint for d in refed] == ["kept"]
    assert set(quiet) == {"kept", "again"}  # expired ones are forgotten


def test_settling_rescues_what_joined_and_holds_what_stayed_quiet() -> None:
    quiet = {"a": det("a"), "b": det("b")}
    refed = [quiet["a"], quiet["b"]]
    fresh = [det("c"), det("d")]
    # a made it into an incident; b and c are still too quiet; d opened or joined something.
    result = CorrelationResult(quiet=["b", "c"])
    assert settle_quiet(quiet, refed, fresh, result) == 1
    assert set(quiet) == {"b", "c"}


def test_the_hold_is_bounded() -> None:
    quiet: dict[str, Detection] = {}
    fresh = [det(f"fp{i}") for i in range(QUIET_KEPT + 10)]
    settle_quiet(quiet, [], fresh, CorrelationResult(quiet=[d.alert.fingerprint for d in fresh]))
    assert len(quiet) == QUIET_KEPT
    assert "fp0" not in quiet and f"fp{QUIET_KEPT + 9}" in quiet
