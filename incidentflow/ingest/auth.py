"""Who may call the webhook: a bearer token or a timestamped HMAC-SHA256 signature, per source.

With no credentials configured at all, every source is open (the loopback default, and
`serve-webhook` refuses a non-loopback address that way unless told `--insecure`). Once any
credential is configured, every source needs one of its own (or the `*` entry's): a source
left without credentials is refused, not open. The codec endpoint is the source `codec`.

A signature covers the time it was made: `HMAC(secret, "<unix seconds>:" + body)` in hex, the
seconds in a timestamp header (Grafana's webhook contact point computes exactly this when its
"Timestamp Header" option is set). A signature more than `INCIDENTFLOW_INGEST_HMAC_WINDOW_
SECONDS` from now is refused, so a captured request cannot be replayed later; within the window
the same body is the same delivery (same batch id), which the stream takes once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time

from pydantic import SecretStr

from incidentflow.settings import IngestSettings

# Our own signature header, and Grafana's default one.
SIGNATURE_HEADERS = ("x-incidentflow-signature", "x-grafana-alerting-signature")
# The timestamp header: ours, and the name to give Grafana's "Timestamp Header" option.
TIMESTAMP_HEADERS = ("x-incidentflow-timestamp", "x-grafana-alerting-timestamp")
CODEC_SOURCE = "codec"


def _secret(table: dict[str, SecretStr], source: str) -> bytes | None:
    value = table.get(source) or table.get("*")
    return value.get_secret_value().encode() if value else None


def any_credentials(cfg: IngestSettings) -> bool:
    """True when any source (or `*`) has a token or an HMAC secret."""
    return bool(cfg.ingest_tokens or cfg.ingest_hmac_secrets)


def _mac(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    """The headers a sender adds to sign `body` at `at` (unix seconds; default now)."""
    stamp = str(int(time.time() if at is None else at))
    return {
        "X-IncidentFlow-Timestamp": stamp,
        "X-IncidentFlow-Signature": "sha256=" + _mac(secret.encode(), stamp, body),
    }


def _signature_problem(
    secret: bytes, headers: dict[str, str], body: bytes, window: int, now: float
) -> str | None:
    """None when a signature header holds a valid, recent signature; else what is wrong."""
    given = [headers[n].strip().removeprefix("sha256=") for n in SIGNATURE_HEADERS if n in headers]
    if not given:
        return "no signature header"
    stamp = next((headers[n].strip() for n in TIMESTAMP_HEADERS if n in headers), "")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return (
            "the signature needs X-IncidentFlow-Timestamp: <unix seconds> (it signs '<ts>:<body>')"
        )
    if abs(now - int(stamp)) > window:
        return (
            f"the signature's timestamp is more than {window} s from now (replayed or clock skew)"
        )
    expected = _mac(secret, stamp, body).encode()
    if any(hmac.compare_digest(g.lower().encode(), expected) for g in given):
        return None
    return "the signature does not match"


def check(
    cfg: IngestSettings,
    source: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> str | None:
    """None when the request may proceed, else why it may not (for the 401 body)."""
    token = _secret(cfg.ingest_tokens, source)
    secret = _secret(cfg.ingest_hmac_secrets, source)
    if token is None and secret is None:
        if not any_credentials(cfg):
            return None
        return (
            f"source {source} has no credentials configured while others do: add it (or '*') "
            "to INCIDENTFLOW_INGEST_TOKENS or INCIDENTFLOW_INGEST_HMAC_SECRETS"
        )
    if token is not None:
        given = headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token):
            return None
    why = ""
    if secret is not None:
        at = time.time() if now is None else now
        problem = _signature_problem(secret, headers, body, cfg.ingest_hmac_window_seconds, at)
        if problem is None:
            return None
        why = f" ({problem})"
    wanted = " or ".join(
        w
        for w, on in (
            ("a bearer token", token is not None),
            (
                "X-IncidentFlow-Timestamp and X-IncidentFlow-Signature: "
                "sha256=<hmac of '<timestamp>:<body>'>",
                secret is not None,
            ),
        )
        if on
    )
    return f"missing or wrong credentials for source {source}: send {wanted}{why}"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_problem(cfg: IngestSettings) -> str | None:
    """Why the webhook must not start as configured: reachable from the network, unguarded."""
    if is_loopback(cfg.webhook_host) or any_credentials(cfg):
        return None
    if cfg.webhook_insecure:
        return None
    return (
        f"the webhook would listen on {cfg.webhook_host} with no credentials: anyone who "
        "reaches it could open incidents. Set INCIDENTFLOW_INGEST_TOKENS (or "
        "INCIDENTFLOW_INGEST_HMAC_SECRETS), listen on 127.0.0.1, or pass --insecure "
        "(INCIDENTFLOW_WEBHOOK_INSECURE=true) to accept that"
    )
