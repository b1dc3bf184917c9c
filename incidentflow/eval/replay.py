"""Replay in recorded time: a bundle's deliveries grouped into ticks at their recorded offsets.

Pure functions over the payloads (no clock, no I/O); `runner` posts the ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from incidentflow.sources.files import parse_time

# Recorded seconds per replayed second. At 30 the data sets' one-minute sample spacing becomes
# 2 s, longer than one round takes here, so each sample's deliveries form their own round as
# they would live; correlation's grouping window compares recorded alert times, so it is
# unchanged. Only the stream's wall-clock windows (flap detection, the quiet hold: 10 min
# each) stretch, to 300 recorded minutes: wider than any bundle.
DEFAULT_SPEED = 30.0


@dataclass(frozen=True)
class Tick:
    """Deliveries that share a recorded time, posted together."""

    offset_s: float
    payloads: list[dict[str, Any]]


def delivery_time(payload: dict[str, Any]) -> datetime | None:
    """When a delivery was sent: its alerts' latest status time (start, or end once resolved)."""
    times: list[datetime] = []
    for alert in payload.get("alerts", []):
        key = "endsAt" if alert.get("status") == "resolved" else "startsAt"
        value = alert.get(key) or alert.get("startsAt")
        if isinstance(value, str) and value and not value.startswith("0001-"):
            times.append(parse_time(value))
    return max(times) if times else None


def replay_ticks(payloads: list[dict[str, Any]]) -> list[Tick]:
    """The deliveries in file order, grouped by recorded time; offsets from the first.

    A delivery is never earlier than the one filed before it (file names order deliveries).
    """
    ticks: list[Tick] = []
    first: datetime | None = None
    last: datetime | None = None
    for payload in payloads:
        at = delivery_time(payload) or last
        if at is not None and last is not None and at < last:
            at = last
        if first is None:
            first = at
        if at is None or first is None:
            at = first = last = datetime.now(UTC)  # no time at all: all go at once
        offset = (at - first).total_seconds()
        if ticks and ticks[-1].offset_s == offset:
            ticks[-1].payloads.append(payload)
        else:
            ticks.append(Tick(offset, [payload]))
        last = at
    return ticks
