"""Timeline lines for alerts that join an open incident.

Deterministic module: pure functions over the update and the incident's known alerts.
"""

from __future__ import annotations

from incidentflow.models import Alert, IncidentUpdate

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
    lines = [
        f"{what} ({_reason_for(alert, update.reasons)})"
        for alert, what in changes[:LISTED_PER_ROUND]
    ]
    rest = changes[LISTED_PER_ROUND:]
    if rest:
        services = sorted({a.labels.get("service", "?") for a, _ in rest})
        named = ", ".join(services[:SERVICES_NAMED])
        more = (
            f" and {len(services) - SERVICES_NAMED} more" if len(services) > SERVICES_NAMED else ""
        )
        lines.append(
            f"{len(rest)} more alert(s) joined or changed status in this round, on {named}{more}"
        )
    return lines


def _reason_for(alert: Alert, reasons: list[str]) -> str:
    """Correlation's reason for this alert (its reasons start with the alert's name)."""
    for reason in reasons:
        if reason.startswith((f"{alert.name} ", f"{alert.name}:")):
            return reason
    return "; ".join(reasons[:2]) or "correlation joined it"
