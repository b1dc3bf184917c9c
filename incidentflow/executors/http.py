"""The http executor: an action as an HTTP request, HMAC signed, idempotent.

Each action kind may have its own route (`INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS`): a method, a URL
and a JSON body template whose `{placeholders}` are the action's typed parameters (service,
from_version, to_version, flag, from_value, to_value, from_replicas, to_replicas, target...),
plus `{kind}` and `{idempotency_key}`. A string that is exactly one placeholder keeps the
parameter's type (`"{to_replicas}"` sends 6, not "6"); values in the URL are percent-encoded.
Kinds without a route POST `{"idempotency_key", "action"}` to `INCIDENTFLOW_EXECUTOR_HTTP_URL`.

The receiver gets `Idempotency-Key` (the same on every retry of one action) and
`X-IncidentFlow-Signature: sha256=<hex HMAC of the body>`; it must apply a key once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from incidentflow.catalog import CATALOG
from incidentflow.errors import ConfigError, ExecutorFailed, ExecutorUnavailable
from incidentflow.models import ActionParams

SIGNATURE_HEADER = "X-IncidentFlow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Above 1: an earlier attempt with this key may have reached the receiver.
ATTEMPT_HEADER = "X-IncidentFlow-Attempt"
MAX_OUTPUT = 4000
# Statuses that say "try again later"; every other 4xx is a refusal.
RETRYABLE = frozenset({408, 425, 429})
ROUTES_SETTING = "INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
_SLOT = re.compile(r"\{(\w+)\}")
_EXTRA_FIELDS = ("kind", "idempotency_key")


@dataclass(frozen=True)
class HttpRoute:
    """Where and how one action kind is sent."""

    method: str
    url: str
    body: Any = None  # None: the default document {"idempotency_key", "action"}


def request_body(params: ActionParams, key: str) -> bytes:
    """The exact bytes sent (and signed) for an action without a route."""
    doc = {"idempotency_key": key, "action": params.model_dump(mode="json")}
    return _dumps(doc)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _fields(params: ActionParams, key: str) -> dict[str, Any]:
    values: dict[str, Any] = params.model_dump(mode="json", exclude={"schema_version"})
    values["idempotency_key"] = key
    return values


def _render(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _SLOT.fullmatch(template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _SLOT.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template
        )
    if isinstance(template, dict):
        return {k: _render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_render(v, values) for v in template]
    return template


def _slots(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(_SLOT.findall(template))
    if isinstance(template, dict):
        return {s for v in template.values() for s in _slots(v)}
    if isinstance(template, list):
        return {s for v in template for s in _slots(v)}
    return set()


def parse_routes(raw: dict[str, dict[str, Any]]) -> dict[str, HttpRoute]:
    """Routes from settings, each placeholder checked against its kind's parameters."""
    routes: dict[str, HttpRoute] = {}
    for kind, spec in raw.items():
        where = f"{ROUTES_SETTING} {kind}"
        if kind not in CATALOG.names():
            raise ConfigError(f"{where}: unknown action kind; known: {', '.join(CATALOG.names())}")
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise ConfigError(f'{where}: needs {{"url": "...", "method": "POST", "body": ...}}')
        unknown_keys = sorted(set(spec) - {"url", "method", "body"})
        if unknown_keys:
            raise ConfigError(f"{where}: unknown keys {', '.join(unknown_keys)}")
        method = str(spec.get("method", "POST")).upper()
        if method not in METHODS:
            raise ConfigError(f"{where}: method {method} is not one of {', '.join(METHODS)}")
        url = spec["url"]
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url {url!r} must be an http(s) URL")
        known = set(CATALOG.get(kind).params.model_fields) - {"schema_version"}
        known |= set(_EXTRA_FIELDS)
        unknown = sorted((_slots(url) | _slots(spec.get("body"))) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown placeholder {{{unknown[0]}}}; {kind} has "
                f"{', '.join('{' + k + '}' for k in sorted(known))}"
            )
        routes[kind] = HttpRoute(method=method, url=url, body=spec.get("body"))
    return routes


def build_request(
    default_url: str | None, routes: dict[str, HttpRoute], params: ActionParams, key: str
) -> tuple[str, str, bytes]:
    """(method, url, body) for an action: its kind's route, else the default URL."""
    route = routes.get(params.kind)
    if route is None:
        if default_url is None:
            raise ExecutorFailed(
                f"the http executor has no route for {params.kind} ({ROUTES_SETTING}) and no "
                "INCIDENTFLOW_EXECUTOR_HTTP_URL"
            )
        return "POST", default_url, request_body(params, key)
    values = _fields(params, key)
    url = _SLOT.sub(lambda m: quote(str(values[m.group(1)]), safe=""), route.url)
    body = request_body(params, key) if route.body is None else _dumps(_render(route.body, values))
    return route.method, url, body


def describe_request(
    url: str | None,
    params: ActionParams,
    key: str,
    routes: dict[str, HttpRoute] | None = None,
) -> list[str]:
    """What the http executor sends, for dry-run and the record (the signature is left out)."""
    method, where, body = build_request(url, routes or {}, params, key)
    return [
        f"{method} {where} {IDEMPOTENCY_HEADER}: {key} {SIGNATURE_HEADER}: sha256=<hmac> "
        f"{body.decode()}"
    ]


class HttpExecutor:
    """Sends actions to their routes (or one endpoint) with the remediation worker's secret."""

    name = "http"
    dry_run = False

    def __init__(
        self,
        *,
        url: str | None,
        secret: bytes,
        timeout: float,
        routes: dict[str, HttpRoute] | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._routes = routes or {}

    def handles(self, kind: str) -> bool:
        """True when this executor has a route of its own for `kind`."""
        return kind in self._routes

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        return describe_request(self._url, params, key, self._routes)

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        method, url, body = build_request(self._url, self._routes, params, key)
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            ATTEMPT_HEADER: str(attempt),
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        try:
            resp = httpx.request(method, url, content=body, headers=headers, timeout=self._timeout)
        except httpx.TransportError as err:
            raise ExecutorUnavailable(f"{method} {url} failed: {err!r}") from err
        text = resp.text[-MAX_OUTPUT:]
        if resp.status_code >= 500 or resp.status_code in RETRYABLE:
            raise ExecutorUnavailable(f"{method} {url} answered {resp.status_code}: {text}")
        if resp.status_code >= 400:
            raise ExecutorFailed(f"{method} {url} refused with {resp.status_code}: {text}")
        return f"{resp.status_code} {text}"
