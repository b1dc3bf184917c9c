"""Bounded everything (issue 14): an incident's detail, its digest, the stream's index entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidentflow.models import Alert, AlertStatus, IncidentUpdate, OpenIncident
from workflows.joins import (
    DIGEST_KEYS,
    MAX_DETAIL,
    OTHER,
    add_to_digest,
    capped,
    duplicate_lines,
    take_detail,
)
from workflows.stream_index import MAX_INDEXED, RECORDS_KEPT, apply_update, halves, keep_latest

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def alert(n: int, *, name: str = "Err", service: str = "api", resolved: bool = False) -> Alert:
    return Alert(
        fingerprint=f"fp-{n}",
        source="alertmanager",
        name=name,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels={"service": service},
        starts_at=NOW + timedelta(seconds=n),
    )


def test_detail_keeps_the_first_alerts_and_updates_known_ones_in_place() -> None:
    first = [alert(n) for n in range(MAX_DETAIL - 1)]
    kept, counted = take_detail({}, first)
    assert kept == first and counted == []
    known = {a.fingerprint: a for a in kept}
    later = [alert(0, resolved=True), alert(10_000), alert(10_001), alert(10_002)]
    kept, counted = take_detail(known, later)
    assert [a.fingerprint for a in kept] == ["fp-0", "fp-10000"]
    assert [a.fingerprint for a in counted] == ["fp-10001", "fp-10002"]


def test_digest_counts_by_name_and_service_with_first_and_last_seen() -> None:
    alerts = [alert(n, name=f"E{n % 3}", service=f"s{n % 2}") for n in range(30)]
    digest = add_to_digest(None, alerts[:10])
    digest = add_to_digest(digest, [*alerts[10:], alert(99, resolved=True)])
    assert digest is not None
    assert (digest.alerts, digest.firing, digest.resolved) == (31, 30, 1)
    assert digest.by_name == {"E0": 10, "E1": 10, "E2": 10, "Err": 1}
    assert digest.by_service == {"s0": 15, "s1": 15, "api": 1}
    assert digest.first_seen == NOW and digest.last_seen == NOW + timedelta(seconds=99)
    assert add_to_digest(None, []) is None


def test_digest_names_are_bounded() -> None:
    digest = add_to_digest(None, [alert(n, name=f"Name{n}") for n in range(DIGEST_KEYS + 50)])
    assert digest is not None
    assert len(digest.by_name) == DIGEST_KEYS + 1 and digest.by_name[OTHER] == 50


def test_lists_and_duplicate_lines_are_capped() -> None:
    assert len(capped(list(range(MAX_DETAIL - 2)), list(range(10)))) == MAX_DETAIL
    assert capped(list(range(MAX_DETAIL)), [1]) == list(range(MAX_DETAIL))
    from incidentflow.models import Duplicate

    update = IncidentUpdate(
        incident_id="INC-1",
        alerts=[],
        reasons=[],
        duplicates=[
            Duplicate(fingerprint=f"fp-{n}", duplicate_of=f"fp-{n}", reason="again")
            for n in range(500)
        ],
    )
    lines = duplicate_lines(update)
    assert len(lines) == 11 and lines[-1].startswith("490 more duplicate")


def test_index_entry_holds_at_most_max_indexed_fingerprints() -> None:
    entry = OpenIncident(
        id="INC-1",
        services=["api"],
        fingerprints=[f"fp-{n}" for n in range(MAX_INDEXED - 5)],
        opened_at=NOW,
    )
    update = IncidentUpdate(
        incident_id="INC-1",
        alerts=[alert(100_000 + n, resolved=n % 2 == 0) for n in range(20)],
        reasons=[],
    )
    after = apply_update(entry, update)
    assert len(after.fingerprints) == MAX_INDEXED
    assert set(after.resolved) <= set(after.fingerprints)


def test_halves_and_records_are_bounded() -> None:
    from incidentflow.models import AlertBatch

    batch = AlertBatch(
        batch_id="b", environment="e", received_at=NOW, alerts=[alert(n) for n in range(5)]
    )
    a, b = halves(batch)
    assert [x.fingerprint for x in a.alerts + b.alerts] == [x.fingerprint for x in batch.alerts]
    kept: list[int] = []
    for n in range(RECORDS_KEPT + 5):
        kept = keep_latest(kept, n)
    assert kept == list(range(5, RECORDS_KEPT + 5))


def test_a_full_incident_gets_one_timeline_line_per_round() -> None:
    from workflows.joins import join_summaries

    update = IncidentUpdate(
        incident_id="INC-1", alerts=[alert(n) for n in range(5000, 5020)], reasons=[]
    )
    assert len(join_summaries(update, {})) == 11
    full = {a.fingerprint: a for a in (alert(n) for n in range(MAX_DETAIL))}
    (line,) = join_summaries(update, full)
    assert line.startswith("20 alert(s) (the incident's digest counts them) joined")
