"""Who may post alerts: a bearer token or an HMAC-SHA256 signature over the body, per source.

A source with neither configured is open (the loopback default); once either is configured for
a source (or for `*`, every source), a request must carry a valid one or it gets 401.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from incidentflow.settings import Settings

# Our own signature header, and Grafana's (its webhook contact point's HMAC option).
SIGNATURE_HEADERS = ("x-incidentflow-signature", "x-grafana-alerting-signature")


def _secret(table: dict[str, SecretStr], source: str) -> bytes | None:
    value = table.get(source) or table.get("*")
    return value.get_secret_value().encode() if value else None


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=<hex>` (what senders compute)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check(settings: Settings, source: str, headers: dict[str, str], body: bytes) -> str | None:
    """None when the request may proceed, else why it may not (for the 401 body)."""
    token = _secret(settings.ingest_tokens, source)
    secret = _secret(settings.ingest_hmac_secrets, source)
    if token is None and secret is None:
        return None
    if token is not None:
        given = headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token):
            return None
    if secret is not None:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        for name in SIGNATURE_HEADERS:
            given = headers.get(name, "").strip().removeprefix("sha256=")
            if given and hmac.compare_digest(given.lower().encode(), expected.encode()):
                return None
    wanted = " or ".join(
        w
        for w, on in (
            ("a bearer token", token is not None),
            ("an X-IncidentFlow-Signature: sha256=<hmac of the body>", secret is not None),
        )
        if on
    )
    return f"missing or wrong credentials for source {source}: send {wanted}"
