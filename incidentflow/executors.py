"""Executors turn a typed action into effects; the ledger makes each happen once.

Only the remediation worker builds these. `dry-run` is the default: it records exactly what it
would have done and changes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

from incidentflow.errors import ConfigError
from incidentflow.models import (
    ActionParams,
    ActionResult,
    FeatureFlagParams,
    RestartParams,
    RollbackParams,
    ScaleParams,
)


class Executor(Protocol):
    name: str
    dry_run: bool

    def describe(self, params: ActionParams) -> list[str]:
        """The exact operations this executor performs for `params`."""
        ...

    def apply(self, params: ActionParams) -> str:
        """Perform the operations; return their output."""
        ...


def kubectl_commands(params: ActionParams) -> list[str]:
    """The kubectl operations that carry out an action (what dry-run reports)."""
    match params:
        case RollbackParams(service=svc, from_version=old, to_version=new):
            return [
                f"kubectl get deployment/{svc} "
                f"-o jsonpath={{.spec.template.spec.containers[0].image}}  # expect {svc}:{old}",
                f"kubectl set image deployment/{svc} {svc}={svc}:{new}",
                f"kubectl rollout status deployment/{svc} --timeout=5m",
            ]
        case RestartParams(service=svc):
            return [
                f"kubectl rollout restart deployment/{svc}",
                f"kubectl rollout status deployment/{svc} --timeout=5m",
            ]
        case ScaleParams(service=svc, to_replicas=n):
            return [f"kubectl scale deployment/{svc} --replicas={n}"]
        case FeatureFlagParams(flag=flag, to_value=value):
            return [f"set feature flag {flag}={str(value).lower()}"]
    raise ConfigError(f"no operations known for action kind {params.kind}")


class DryRunExecutor:
    """Changes nothing; records the exact operations a real executor would run."""

    name = "dry-run"
    dry_run = True

    def describe(self, params: ActionParams) -> list[str]:
        return kubectl_commands(params)

    def apply(self, params: ActionParams) -> str:
        return "dry-run: nothing was changed"


def build_executor(name: str) -> Executor:
    """The executor the settings name; a clear error for an unknown one."""
    if name == "dry-run":
        return DryRunExecutor()
    raise ConfigError(
        f"INCIDENTFLOW_EXECUTOR={name!r} is not available in this version; use 'dry-run'"
    )


class Ledger:
    """Which actions already took effect, keyed by idempotency key, on local disk.

    A retry after a crash finds the finished entry and does not act again.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS executions ("
                " key TEXT PRIMARY KEY, result TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30, isolation_level=None)

    def get(self, key: str) -> ActionResult | None:
        """The recorded result for `key`, if that action already ran."""
        with self._connect() as db:
            row = db.execute("SELECT result FROM executions WHERE key = ?", (key,)).fetchone()
        return ActionResult.model_validate_json(row[0]) if row else None

    def put(self, key: str, result: ActionResult) -> None:
        """Record that `key` ran; the first record wins."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO executions (key, result) VALUES (?, ?)",
                (key, result.model_dump_json()),
            )

    def count(self) -> int:
        """How many actions (and undos) this ledger has recorded."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM executions").fetchone()[0])
