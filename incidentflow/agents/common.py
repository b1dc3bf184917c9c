"""Small helpers every rules engine shares: stable ids and readable times."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta


def short_hash(*parts: str, length: int = 6) -> str:
    """Lowercase hex digest of `parts`; the same parts always give the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def utc(at: datetime) -> datetime:
    """`at` in UTC; naive times are taken as UTC so comparisons never raise."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def hhmm(at: datetime) -> str:
    """`14:03:30 UTC`: how a person reads a time inside one incident."""
    return utc(at).strftime("%H:%M:%S UTC")


def ago(delta: timedelta) -> str:
    """A duration for sentences: `3m 18s`, `2h 1m`."""
    seconds = int(abs(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"
