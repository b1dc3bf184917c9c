"""Helpers every wire format shares: stable fingerprints and delivery ids."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

# Alertmanager and Grafana send this for an alert that has not ended yet.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable identity from the label set, for senders that send no fingerprint."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def canonical_id(prefix: str, partition: str, body: Any) -> str:
    """`<prefix>-<hash>` of the partition and the parsed body: one id per distinct delivery.

    Keys sorted, so the same delivery serialized again in another key order has the same id.
    orjson writes the canonical form at C speed (a storm's bodies are hashed on the hot
    path); what it cannot write (integers past 64 bits) takes the standard library's way,
    and the same body always takes the same way.
    """
    try:
        canonical = orjson.dumps([partition, body], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = json.dumps([partition, body], sort_keys=True, separators=(",", ":")).encode()
    return f"{prefix}-" + hashlib.sha256(canonical).hexdigest()[:24]


def as_utc(at: datetime) -> datetime:
    """`at` in UTC; a sender's naive time is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _in_utc_range(at: datetime) -> datetime:
    """`at` unchanged, if it has a UTC time (year 1 with a positive offset has none)."""
    try:
        as_utc(at)
    except OverflowError:
        raise ValueError("this time with its offset is outside the years 1-9999 in UTC") from None
    return at


# A sender's timestamp: any ISO 8601 time pydantic takes, as long as it converts to UTC; one
# that does not is a 422 naming the field, never an error further in.
WireTime = Annotated[datetime, AfterValidator(_in_utc_range)]
