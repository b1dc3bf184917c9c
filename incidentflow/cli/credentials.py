"""A person's decision credential for the CLI, and the decision API client that uses it.

Where the credential comes from, first found wins:
1. INCIDENTFLOW_API_TOKEN (a token from INCIDENTFLOW_API_TOKENS, or an OIDC JWT);
2. the credentials file (INCIDENTFLOW_CREDENTIALS_FILE, default
   ~/.config/incidentflow/credentials), TOML, readable by its owner only:

       api_url = "https://incidentflow.example.com"   # optional
       token = "..."                                     # or:
       token_command = ["oidc-token", "incidentflow"]  # prints a fresh JWT

With a credential, approve, reject and the takeover commands go through the decision API
(docs/decisions.md); without one they go straight to Temporal as unsigned local decisions,
which only the embedded single-user mode believes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from incidentflow.errors import (
    BadInput,
    ConfigError,
    DecisionRefused,
    IncidentNotFound,
    TemporalUnavailable,
)
from incidentflow.models import IncidentRecord
from incidentflow.settings import Settings

M = TypeVar("M", bound=BaseModel)
# A person waits at a terminal; the API itself waits at most 15 s for Temporal.
API_TIMEOUT_S = 30.0
TOKEN_COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Credential:
    api_url: str
    token: str


def default_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "incidentflow" / "credentials"


def _read_file(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others: `chmod 600 {path}`")
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not a readable TOML credentials file: {err}") from err


def _run_token_command(command: object, path: Path) -> str:
    if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
        raise ConfigError(f"{path}: token_command must be a list of strings")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TOKEN_COMMAND_TIMEOUT_S, check=True
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise ConfigError(f"{path}: token_command failed: {err}") from err
    return done.stdout.strip()


def load_credential(settings: Settings) -> Credential | None:
    """The person's credential, or None (then decisions go straight to Temporal, unsigned)."""
    path = settings.cli.credentials_file or default_file()
    data = _read_file(path) or {}
    token = settings.cli.api_token.get_secret_value() if settings.cli.api_token else None
    if token is None and "token" in data:
        token = str(data["token"])
    if token is None and "token_command" in data:
        token = _run_token_command(data["token_command"], path)
    if not token:
        return None
    url = settings.cli.api_url or (
        str(data["api_url"]) if "api_url" in data else settings.ingest.ingest_url
    )
    return Credential(api_url=url.rstrip("/"), token=token)


class DecisionApi:
    """The decision API, called with a person's credential; errors are one line."""

    def __init__(self, credential: Credential) -> None:
        self._cred = credential

    async def _call(self, method: str, path: str, body: object | None = None) -> dict[str, Any]:
        url = self._cred.api_url + path
        headers = {"Authorization": f"Bearer {self._cred.token}"}
        try:
            async with httpx.AsyncClient(timeout=API_TIMEOUT_S) as http:
                resp = await http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as err:
            raise TemporalUnavailable(
                f"cannot reach the IncidentFlow API at {self._cred.api_url} "
                f"({type(err).__name__}): is the ingest service running?"
            ) from err
        try:
            data = resp.json()
        except ValueError:
            data = {"error": resp.text[:200]}
        if not isinstance(data, dict):
            data = {"error": str(data)[:200]}
        if resp.status_code == 200:
            return data
        message = str(data.get("error") or f"HTTP {resp.status_code}")
        if resp.status_code == 401:
            raise ConfigError(
                f"the API did not accept your credential: {message} (docs/decisions.md)"
            )
        if resp.status_code == 404:
            raise IncidentNotFound(f"{message}: list them with `incidentflow incidents`")
        if resp.status_code in (400, 413, 415, 422):
            raise BadInput(message)
        if resp.status_code >= 500:
            raise TemporalUnavailable(message)
        recorded = " (the attempt is recorded)" if data.get("recorded") else ""
        raise DecisionRefused(message + recorded)

    async def whoami(self) -> str:
        """The identity the credential proves."""
        return str((await self._call("GET", "/v1/me")).get("identity", "?"))

    async def record(self, incident_id: str) -> IncidentRecord:
        """The incident's record, as the API reads it."""
        data = await self._call("GET", f"/v1/incidents/{incident_id}")
        return _as(IncidentRecord, data, self._cred.api_url)

    async def decide(self, incident_id: str, verb: str, body: dict[str, Any], model: type[M]) -> M:
        """POST one decision; the update's result (an Approval or a TimelineEvent)."""
        answer = await self._call("POST", f"/v1/incidents/{incident_id}/{verb}", body)
        return _as(model, answer.get("result"), self._cred.api_url)


def _as(model: type[M], data: object, url: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise TemporalUnavailable(
            f"the API at {url} answered something that is not a {model.__name__} "
            f"({err.error_count()} problem(s)): is it the same IncidentFlow version?"
        ) from err


async def credential_of(settings: Settings) -> Credential | None:
    """load_credential off the event loop (it may read a file or run a token command)."""
    return await asyncio.to_thread(load_credential, settings)
