"""Timeline lines for alerts that join an open incident, and the incident's bounded detail.

Deterministic module: pure functions over the update and the incident's known alerts.
"""

from __future__ import annotations

from typing import TypeVar

from incidentflow.models import Alert, AlertDigest, AlertStatus, IncidentUpdate

T = TypeVar("T")

# Alerts (and downstream explanations, duplicates, detections) an incident keeps in full; the
# rest are counted in its digest. 500 alerts of ~600 bytes keep the record query, the
# post-mortem input and the worker's cached state far below Temporal's 2 MB payload limit.
MAX_DETAIL = 500
# Alerts and detections the timeline lists when an incident opens (the "opened" line counts
# them all): a storm's first round may hold 2,000.
LISTED_AT_INTAKE = 50
# Names and services the digest counts one by one; the rest count under OTHER.
DIGEST_KEYS = 100
OTHER = "(other)"

# Alerts one joining round lists one by one; the rest of a storm's round is one summary line,
# so a 20,000-alert storm leaves a timeline a person can read (and a record Temporal can carry).
LISTED_PER_ROUND = 10
SERVICES_NAMED = 8


def join_summaries(update: IncidentUpdate, known: dict[str, Alert]) -> list[str]:
    """What `update` changes, for the timeline: alerts new to the incident or changing status."""
    changes: list[tuple[Alert, str]] = []
    for alert in update.alerts:
        before = known.get(alert.fingerprint)
        if before is None:
            changes.append(
                (alert, f"alert joined: {alert.name} on {alert.labels.get('service', '?')}")
            )
        elif before.status != alert.status:
            changes.append((alert, f"alert {alert.status.value}: {alert.name}"))
    # Once the incident's detail is full, later alerts live in its digest: one line a round.
    listed = LISTED_PER_ROUND if len(known) < MAX_DETAIL else 0
    lines = [f"{what} ({_reason_for(alert, update.reasons)})" for alert, what in changes[:listed]]
    rest = changes[listed:]
    if rest:
        services = sorted({a.labels.get("service", "?") for a, _ in rest})
        named = ", ".join(services[:SERVICES_NAMED])
        more = (
            f" and {len(services) - SERVICES_NAMED} more" if len(services) > SERVICES_NAMED else ""
        )
        what = "more alert(s)" if listed else "alert(s) (the incident's digest counts them)"
        lines.append(f"{len(rest)} {what} joined or changed status in this round, on {named}{more}")
    return lines


def _reason_for(alert: Alert, reasons: list[str]) -> str:
    """Correlation's reason for this alert (its reasons start with the alert's name)."""
    for reason in reasons:
        if reason.startswith((f"{alert.name} ", f"{alert.name}:")):
            return reason
    return "; ".join(reasons[:2]) or "correlation joined it"


def take_detail(known: dict[str, Alert], alerts: list[Alert]) -> tuple[list[Alert], list[Alert]]:
    """(alerts kept in full, alerts only counted): known alerts always update in place."""
    room = MAX_DETAIL - len(known)
    kept: list[Alert] = []
    counted: list[Alert] = []
    for alert in alerts:
        if alert.fingerprint in known:
            kept.append(alert)
        elif room > 0:
            kept.append(alert)
            room -= 1
        else:
            counted.append(alert)
    return kept, counted


def capped(items: list[T], more: list[T]) -> list[T]:
    """`items` then `more`, at most MAX_DETAIL of them (the first ones)."""
    if len(items) >= MAX_DETAIL:
        return items
    return [*items, *more[: MAX_DETAIL - len(items)]]


def add_to_digest(digest: AlertDigest | None, alerts: list[Alert]) -> AlertDigest | None:
    """The digest with `alerts` counted in (None stays None while there is nothing to count)."""
    if not alerts:
        return digest
    digest = digest or AlertDigest()
    by_name, by_service = dict(digest.by_name), dict(digest.by_service)
    first, last = digest.first_seen, digest.last_seen
    for alert in alerts:
        _bump(by_name, alert.name)
        _bump(by_service, alert.labels.get("service", "?"))
        first = alert.starts_at if first is None else min(first, alert.starts_at)
        last = alert.starts_at if last is None else max(last, alert.starts_at)
    resolved = sum(a.status is AlertStatus.RESOLVED for a in alerts)
    return digest.model_copy(
        update={
            "alerts": digest.alerts + len(alerts),
            "firing": digest.firing + len(alerts) - resolved,
            "resolved": digest.resolved + resolved,
            "by_name": by_name,
            "by_service": by_service,
            "first_seen": first,
            "last_seen": last,
        }
    )


def _bump(counts: dict[str, int], key: str) -> None:
    if key not in counts and len(counts) >= DIGEST_KEYS:
        key = OTHER
    counts[key] = counts.get(key, 0) + 1


def duplicate_lines(update: IncidentUpdate) -> list[str]:
    """Timeline lines for known alerts delivered again: a few listed, the rest counted."""
    lines = [f"duplicate delivery: {d.reason}" for d in update.duplicates[:LISTED_PER_ROUND]]
    rest = len(update.duplicates) - LISTED_PER_ROUND
    if rest > 0:
        lines.append(f"{rest} more duplicate deliveries in this round")
    return lines


def intake_alerts(alerts: list[Alert]) -> list[Alert]:
    """The alerts the timeline lists when an incident opens: the first LISTED_AT_INTAKE."""
    return sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint))[:LISTED_AT_INTAKE]
