"""A change log served over HTTP as JSON: deploys and config changes per service.

`GET <url>?service=<name>&start=<RFC 3339>&end=<RFC 3339>`, once per service, answers a JSON
list of `{id, service, kind, at, before, after, author, description, link}` (the shape of
`ChangeRecord`; `kind` is deploy | config | feature_flag | infra). An optional bearer token is
sent as `Authorization`. Answers are filtered again here, so an endpoint that ignores the
parameters is still correct. Nothing is contacted until the agent asks; no client retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from incidentflow.errors import BadInput, ConfigError, EvidenceUnavailable
from incidentflow.evidence import ChangeRecord
from incidentflow.sources.files import changes_from_list, utc
from incidentflow.sources.live import LiveSource
from incidentflow.telemetry import evidence_span

HTTP_TIMEOUT_S = 10.0


class HttpChangeLog(LiveSource):
    """Changes from an HTTP JSON endpoint; no logs or metrics."""

    def __init__(
        self,
        url: str,
        *,
        token: SecretStr | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
        name: str = "changelog",
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"INCIDENTFLOW_CHANGELOG_URL={url!r} must be an http(s) URL")
        self._url = url
        self._token = token
        self._timeout = timeout_s
        self._name = name

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """Changes to `services` with `start <= at <= end`, oldest first."""
        lo, hi = utc(start), utc(end)
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        found: dict[str, ChangeRecord] = {}
        with httpx.Client(timeout=self._timeout, headers=headers) as http:
            for service in services:
                params = {"service": service, "start": lo.isoformat(), "end": hi.isoformat()}
                for change in self._get(http, params):
                    if change.service == service and lo <= utc(change.at) <= hi:
                        found[change.id] = change
        return sorted(found.values(), key=lambda c: (c.at, c.id))

    def _get(self, http: httpx.Client, params: dict[str, str]) -> list[ChangeRecord]:
        where = f"change log at INCIDENTFLOW_CHANGELOG_URL={self._url}"
        try:
            with evidence_span(self._name, str(httpx.URL(self._url, params=params))):
                resp = http.get(self._url, params=params)
        except httpx.HTTPError as err:
            raise EvidenceUnavailable(f"{where} did not answer: {err!r}") from err
        if resp.status_code in (401, 403):
            raise ConfigError(
                f"{where} refused us ({resp.status_code}): check INCIDENTFLOW_CHANGELOG_TOKEN"
            )
        if resp.status_code >= 300:
            raise EvidenceUnavailable(f"{where} answered {resp.status_code}")
        try:
            items: Any = resp.json()
        except ValueError as err:
            raise EvidenceUnavailable(f"{where} sent no JSON: {resp.text[:120]!r}") from err
        if not isinstance(items, list):
            raise EvidenceUnavailable(f"{where} sent {type(items).__name__}, not a list")
        try:
            return changes_from_list(items, where, str(resp.url))
        except BadInput as err:
            raise EvidenceUnavailable(f"{where} sent a change that does not fit: {err}") from err
