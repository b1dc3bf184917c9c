"""Pure bookkeeping for the alert stream: the open-incident index and flap tracking.

Deterministic module: no I/O, no clock (times are passed in from `workflow.now()`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertMember,
    AlertStatus,
    CorrelationResult,
    Detection,
    IncidentMoved,
    IncidentUpdate,
    OpenIncident,
    QuarantinedAlerts,
    StreamInput,
)

T = TypeVar("T")

# Alertmanager's own flap detection looks at about this span; changes older than it age out.
FLAP_WINDOW = timedelta(minutes=10)
# Fingerprints tracked for flapping; the oldest are forgotten first (bounded carry-over).
FLAP_TRACKED = 5_000


def note_transitions(
    transitions: dict[str, list[datetime]], batch: AlertBatch, now: datetime
) -> dict[str, int]:
    """Record status changes in `batch`; returns each fingerprint's changes before it.

    A fingerprint enters the table at its first resolve; from then on, entries alternate
    resolved/firing, so an odd count means its latest status is resolved and a repeated
    delivery of the same status is not a change.
    """
    before: dict[str, int] = {}
    for fp, times in list(transitions.items()):
        kept = [t for t in times if now - t <= FLAP_WINDOW]
        # Keep parity: dropping an odd number of old entries would flip the latest status.
        if (len(times) - len(kept)) % 2:
            kept = times[len(times) - len(kept) - 1 :]
        if kept:
            transitions[fp] = kept
        else:
            del transitions[fp]
    for alert in batch.alerts:
        fp = alert.fingerprint
        seen = transitions.get(fp, [])
        if seen:
            before.setdefault(fp, len(seen))
        last_resolved = len(seen) % 2 == 1
        if alert.status is AlertStatus.RESOLVED and not last_resolved:
            transitions.setdefault(fp, []).append(now)
        elif alert.status is AlertStatus.FIRING and last_resolved:
            transitions[fp].append(now)
    while len(transitions) > FLAP_TRACKED:
        transitions.pop(next(iter(transitions)))
    return before


# Alerts per incident whose service and name the index remembers (for re-explaining them when
# the origin moves). A storm incident of thousands of alerts keeps the first ones: the index
# travels across continue-as-new, and Temporal caps that payload at 2 MB.
MAX_MEMBERS = 500


# Fingerprints one index entry holds. An alert of a bigger storm that is not held still joins
# by service and time (correlation's join over the graph) and is counted in the incident's
# digest; the index travels across continue-as-new and answers `open_incidents`, both capped
# by Temporal at 2 MB.
MAX_INDEXED = 10_000


def capped_members(members: dict[str, AlertMember]) -> dict[str, AlertMember]:
    """At most MAX_MEMBERS entries, the first ones kept."""
    if len(members) <= MAX_MEMBERS:
        return members
    return dict(list(members.items())[:MAX_MEMBERS])


def apply_update(known: OpenIncident, update: IncidentUpdate) -> OpenIncident:
    """The index entry after `update`: its fingerprints and services, and which resolved."""
    resolved = set(known.resolved)
    for alert in update.alerts:
        if alert.status is AlertStatus.RESOLVED:
            resolved.add(alert.fingerprint)
        else:
            resolved.discard(alert.fingerprint)
    have = set(known.fingerprints)
    new = sorted({a.fingerprint for a in update.alerts} - have)
    room = max(MAX_INDEXED - len(have), 0)
    fingerprints = sorted({*have, *new[:room]})
    services = [*known.services, *(s for s in update.services if s not in known.services)]
    changes: dict[str, object] = {
        "fingerprints": fingerprints,
        "resolved": sorted(resolved & {*fingerprints}),
        "services": services,
        "members": capped_members({**known.members, **update.members}),
    }
    if update.origin_service is not None:
        changes["origin_service"] = update.origin_service
    return known.model_copy(update=changes)


def all_resolved(entry: OpenIncident) -> bool:
    """True when every alert of the incident has resolved."""
    return bool(entry.fingerprints) and set(entry.fingerprints) <= set(entry.resolved)


def without_raw(batch: AlertBatch) -> AlertBatch:
    """The batch as the agents need it: the sender's raw payload stays in the signal's event.

    Every copy of an alert in the stream's history (pending, activity inputs and results, the
    incidents' signals) costs history bytes; raw would double each one and the agents never
    read it.
    """
    if not any(a.raw for a in batch.alerts):
        return batch
    return batch.model_copy(
        update={"alerts": [a.model_copy(update={"raw": {}}) for a in batch.alerts]}
    )


def release_carried(inp: StreamInput) -> None:
    """Empty what a run's input carried, once the run's state holds its own references to it.

    The SDK keeps a run's decoded input alive until the run ends (the workflow instance and the
    interceptors' `execute_workflow` frames hold it), and a stream run lasts as long as its
    history allows, hours or days when alerts come slowly. Measured with bench/memprobe.py after
    3 x 20,000 alerts: the 86 batches (8,600 alerts) a hand-over had carried, long processed,
    still held 16.7 MB of objects; an index entry dropped from the state would stay alive in
    the input the same way. Only the input's containers are emptied: nothing reads them again
    (a replay decodes the input afresh), and the state keeps its own lists and dicts.
    """
    for name in type(inp).model_fields:
        value = getattr(inp, name)
        if isinstance(value, (list, dict)):
            value.clear()


def index_for(open_incidents: list[OpenIncident], batch: AlertBatch) -> list[OpenIncident]:
    """The open-incident index cut to what correlating `batch` reads.

    Correlation looks fingerprints up only for the batch's own alerts; an incident of a long
    storm holds tens of thousands, which would otherwise ride in every correlate input.
    """
    fps = {a.fingerprint for a in batch.alerts}
    return [
        o.model_copy(
            update={
                "fingerprints": [fp for fp in o.fingerprints if fp in fps],
                "resolved": [fp for fp in o.resolved if fp in fps],
            }
        )
        for o in open_incidents
    ]


def alert_weight(batch: AlertBatch) -> int:
    """About how many bytes `batch`'s alerts take as JSON: labels, annotations and framing."""
    return sum(
        300
        + sum(len(k) + len(v) + 6 for k, v in a.labels.items())
        + sum(len(k) + len(v) + 6 for k, v in a.annotations.items())
        for a in batch.alerts
    )


# A lone warning dropped as too quiet is held this long (correlation's default group window):
# related alerts that arrive later in the window still make an incident of it.
QUIET_HOLD = timedelta(minutes=10)
# Quiet alerts held at most; the oldest are forgotten first (bounded carry-over).
QUIET_KEPT = 500


def quiet_to_refeed(
    quiet: dict[str, Detection], batch: AlertBatch, now: datetime
) -> list[Detection]:
    """Held quiet alerts to correlate again with `batch`: not expired, not delivered anew."""
    for fp in [fp for fp, d in quiet.items() if now - _aware(d.alert.starts_at) > QUIET_HOLD]:
        del quiet[fp]
    in_batch = {a.fingerprint for a in batch.alerts}
    return [d for fp, d in quiet.items() if fp not in in_batch]


def settle_quiet(
    quiet: dict[str, Detection],
    refed: list[Detection],
    detections: list[Detection],
    result: CorrelationResult,
) -> int:
    """Hold what this round left quiet; how many held alerts made it into an incident."""
    still = set(result.quiet)
    rescued = 0
    for det in refed:
        if det.alert.fingerprint not in still:
            quiet.pop(det.alert.fingerprint, None)
            rescued += 1
    for det in detections:
        if det.alert.fingerprint in still:
            quiet[det.alert.fingerprint] = det
        else:
            quiet.pop(det.alert.fingerprint, None)
    while len(quiet) > QUIET_KEPT:
        quiet.pop(next(iter(quiet)))
    return rescued


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# Quarantined rounds and ended incidents the stream's record keeps, newest last (bounded
# carry-over), and the alerts each quarantine record lists one by one.
RECORDS_KEPT = 100
QUARANTINE_ALERTS_LISTED = 20


def keep_latest(items: list[T], item: T) -> list[T]:
    """`items` with `item` appended, the oldest dropped beyond RECORDS_KEPT."""
    return [*items, item][-RECORDS_KEPT:]


def halves(batch: AlertBatch) -> list[AlertBatch]:
    """A round cut in two, to find the alerts an agent cannot process among good ones."""
    mid = len(batch.alerts) // 2
    return [
        batch.model_copy(update={"alerts": batch.alerts[:mid]}),
        batch.model_copy(update={"alerts": batch.alerts[mid:]}),
    ]


def quarantine_record(
    batch: AlertBatch, *, stage: str, error: str, at: datetime
) -> QuarantinedAlerts:
    """What the stream's record keeps of a round no agent could process."""
    return QuarantinedAlerts(
        batch_id=batch.batch_id[:200],
        at=at,
        stage=stage,
        error=error[:2000],
        alert_count=len(batch.alerts),
        alerts=list(without_raw(batch).alerts[:QUARANTINE_ALERTS_LISTED]),
    )


def after_end(batch: AlertBatch, gone: set[str]) -> list[Alert]:
    """The round's alerts whose fingerprints were meant for incidents that had ended."""
    return [a for a in batch.alerts if a.fingerprint in gone]


def apply_move(open_incidents: dict[str, OpenIncident], msg: IncidentMoved, now: datetime) -> None:
    """A person merged or split incidents: move the alerts between index entries."""
    moved = {a.fingerprint for a in msg.alerts}
    entry = open_incidents.get(msg.incident_id)
    if msg.kind in ("merged_into", "split_out") and entry is not None:
        left = [fp for fp in entry.fingerprints if fp not in moved]
        if msg.kind == "merged_into" or not left:
            open_incidents.pop(msg.incident_id, None)
        else:
            open_incidents[msg.incident_id] = entry.model_copy(update={"fingerprints": left})
    elif msg.kind in ("merged_from", "split_from"):
        base = entry or OpenIncident(
            id=msg.incident_id,
            services=[],
            fingerprints=[],
            opened_at=min((a.starts_at for a in msg.alerts), default=now),
        )
        open_incidents[msg.incident_id] = base.model_copy(
            update={
                "fingerprints": sorted({*base.fingerprints, *moved}),
                "services": [*base.services, *(s for s in msg.services if s not in base.services)],
            }
        )


def take_round(
    pending: list[AlertBatch], *, max_alerts: int, max_bytes: int
) -> tuple[AlertBatch, list[AlertBatch], int]:
    """(the next round, the batches left, the round's weight): the first waiting batches up to
    a round's size, merged (at least one, whatever its size)."""
    take, size, weight = 0, 0, 0
    for b in pending:
        more = alert_weight(b)
        if take and (size + len(b.alerts) > max_alerts or weight + more > max_bytes):
            break
        take, size, weight = take + 1, size + len(b.alerts), weight + more
    batches, rest = pending[:take], pending[take:]
    if len(batches) == 1:
        return batches[0], rest, weight
    merged = AlertBatch(
        batch_id="+".join(b.batch_id for b in batches),
        environment=batches[0].environment,
        received_at=batches[0].received_at,
        alerts=[a for b in batches for a in b.alerts],
    )
    return merged, rest, weight
