"""The http executor: the action as JSON to a configured endpoint, HMAC signed, idempotent.

The receiver gets `Idempotency-Key` (the same on every retry of one action) and
`X-IncidentFlow-Signature: sha256=<hex HMAC of the body>`; it must apply a key once.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from incidentflow.errors import ExecutorFailed, ExecutorUnavailable
from incidentflow.models import ActionParams

SIGNATURE_HEADER = "X-IncidentFlow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Above 1: an earlier attempt with this key may have reached the receiver.
ATTEMPT_HEADER = "X-IncidentFlow-Attempt"
MAX_OUTPUT = 4000
# Statuses that say "try again later"; every other 4xx is a refusal.
RETRYABLE = frozenset({408, 425, 429})


def request_body(params: ActionParams, key: str) -> bytes:
    """The exact bytes sent (and signed) for an action."""
    doc = {"idempotency_key": key, "action": params.model_dump(mode="json")}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def describe_request(url: str, params: ActionParams, key: str) -> list[str]:
    """What the http executor sends, for dry-run and the record (the signature is left out)."""
    return [
        f"POST {url} {IDEMPOTENCY_HEADER}: {key} {SIGNATURE_HEADER}: sha256=<hmac> "
        f"{request_body(params, key).decode()}"
    ]


class HttpExecutor:
    """POSTs actions to one endpoint with the remediation worker's secret."""

    name = "http"
    dry_run = False

    def __init__(self, *, url: str, secret: bytes, timeout: float) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        return describe_request(self._url, params, key)

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        body = request_body(params, key)
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            ATTEMPT_HEADER: str(attempt),
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        try:
            resp = httpx.post(self._url, content=body, headers=headers, timeout=self._timeout)
        except httpx.TransportError as err:
            raise ExecutorUnavailable(f"POST {self._url} failed: {err!r}") from err
        text = resp.text[-MAX_OUTPUT:]
        if resp.status_code >= 500 or resp.status_code in RETRYABLE:
            raise ExecutorUnavailable(f"POST {self._url} answered {resp.status_code}: {text}")
        if resp.status_code >= 400:
            raise ExecutorFailed(f"POST {self._url} refused with {resp.status_code}: {text}")
        return f"{resp.status_code} {text}"
