"""Executors turn a typed action into effects; the ledger makes each take effect once.

Only the remediation worker calls `build_executors`, so it is the only process that opens
executor credentials (kubeconfig, the http HMAC key, the runbook directory). `dry-run` is the
default: it records exactly what the real executor would run and changes nothing.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Protocol

from incidentflow.catalog import CATALOG
from incidentflow.errors import ConfigError, ExecutorFailed
from incidentflow.executors.http import HttpExecutor, describe_request, parse_routes
from incidentflow.executors.kubectl import KubectlExecutor
from incidentflow.executors.ledger import Ledger
from incidentflow.executors.script import ScriptExecutor, script_argv
from incidentflow.models import ActionParams, NoopParams
from incidentflow.settings import ExecutorSettings

__all__ = ["REAL_EXECUTORS", "DryRunExecutor", "Executor", "Executors", "Ledger", "build_executors"]

REAL_EXECUTORS = ("kubectl", "http", "script")


class Executor(Protocol):
    name: str
    dry_run: bool

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        """The exact operations this executor performs for `params`."""
        ...

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        """Perform the operations (idempotently for `key`); return their output.

        `attempt` above 1 says an earlier attempt with this key may have acted already.
        """
        ...


class DryRunExecutor:
    """Changes nothing; records the exact operations the real executor would run."""

    name = "dry-run"
    dry_run = True

    def __init__(self, cfg: ExecutorSettings) -> None:
        # Only names and paths: a dry run never opens a credential.
        self._kubectl = KubectlExecutor(
            binary=cfg.executor_kubectl, kubeconfig=cfg.executor_kubeconfig, timeout=1
        )
        self._url = cfg.executor_http_url or "<INCIDENTFLOW_EXECUTOR_HTTP_URL>"
        self._routes = parse_routes(cfg.executor_http_actions)
        self._script_dir = cfg.executor_script_dir

    def describe(self, params: ActionParams, *, key: str) -> list[str]:
        if isinstance(params, NoopParams):
            return [f"nothing: {params.reason}"]
        real = CATALOG.get(params.kind).executor
        if real == "http" or params.kind in self._routes:
            return describe_request(self._url, params, key, self._routes)
        if real == "kubectl":
            return self._kubectl.describe(params, key=key)
        if real == "script":
            where = self._script_dir or Path("<INCIDENTFLOW_EXECUTOR_SCRIPT_DIR>")
            return [shlex.join(script_argv(where, params, resolve=self._script_dir is not None))]
        raise ExecutorFailed(f"no executor describes action kind {params.kind}")

    def apply(self, params: ActionParams, *, key: str, attempt: int = 1) -> str:
        return "dry-run: nothing was changed"


class Executors:
    """Picks the executor for each action: its catalog executor if enabled, else dry-run."""

    def __init__(self, *, dry_run: DryRunExecutor, real: dict[str, Executor]) -> None:
        self._dry_run = dry_run
        self._real = real

    @property
    def names(self) -> list[str]:
        """What this worker runs for real; empty means everything is a dry run."""
        return sorted(self._real)

    def for_params(self, params: ActionParams) -> Executor:
        """The executor that runs `params` here; an error when its executor is not enabled."""
        if isinstance(params, NoopParams) or not self._real:
            return self._dry_run
        wanted = CATALOG.get(params.kind).executor
        http = self._real.get("http")
        if isinstance(http, HttpExecutor) and http.handles(params.kind):
            return http  # a route of its own: e.g. a rollback through a deploy API
        found = self._real.get(wanted)
        if found is None:
            raise ExecutorFailed(
                f"{params.kind} needs the {wanted} executor, which this remediation worker does "
                f"not enable (INCIDENTFLOW_EXECUTOR={','.join(self.names)})"
            )
        return found


def _http_secret(cfg: ExecutorSettings) -> bytes:
    if cfg.executor_http_secret_file is not None:
        try:
            return cfg.executor_http_secret_file.read_bytes().strip()
        except OSError as err:
            raise ConfigError(
                f"INCIDENTFLOW_EXECUTOR_HTTP_SECRET_FILE={cfg.executor_http_secret_file} "
                f"cannot be read: {err.strerror}"
            ) from err
    if cfg.executor_http_secret is not None:
        return cfg.executor_http_secret.get_secret_value().encode()
    raise ConfigError(
        "the http executor signs every request: set INCIDENTFLOW_EXECUTOR_HTTP_SECRET_FILE "
        "(or INCIDENTFLOW_EXECUTOR_HTTP_SECRET) on the remediation worker"
    )


def build_executors(cfg: ExecutorSettings, *, lock_dir: Path) -> Executors:
    """The executors INCIDENTFLOW_EXECUTOR enables, with their credentials (remediation only)."""
    wanted = [n.strip() for n in cfg.executor.split(",") if n.strip()]
    if wanted in ([], ["dry-run"]):
        return Executors(dry_run=DryRunExecutor(cfg), real={})
    unknown = [n for n in wanted if n not in REAL_EXECUTORS]
    if unknown:
        raise ConfigError(
            f"INCIDENTFLOW_EXECUTOR={cfg.executor!r}: unknown {', '.join(unknown)}; use "
            f"'dry-run' or a comma list of {', '.join(REAL_EXECUTORS)}"
        )
    timeout = cfg.executor_timeout_seconds
    real: dict[str, Executor] = {}
    if "kubectl" in wanted:
        real["kubectl"] = KubectlExecutor(
            binary=cfg.executor_kubectl,
            kubeconfig=cfg.executor_kubeconfig,
            timeout=timeout,
        )
    if "http" in wanted:
        routes = parse_routes(cfg.executor_http_actions)
        if not cfg.executor_http_url and not routes:
            raise ConfigError(
                "the http executor needs INCIDENTFLOW_EXECUTOR_HTTP_URL or routes per action "
                "kind in INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS"
            )
        real["http"] = HttpExecutor(
            url=cfg.executor_http_url,
            secret=_http_secret(cfg),
            timeout=timeout,
            routes=routes,
        )
    if "script" in wanted:
        directory = cfg.executor_script_dir
        if directory is None or not directory.is_dir():
            raise ConfigError(
                "the script executor needs INCIDENTFLOW_EXECUTOR_SCRIPT_DIR, a directory of "
                f"runbook scripts (got {directory})"
            )
        real["script"] = ScriptExecutor(directory=directory, timeout=timeout, lock_dir=lock_dir)
    return Executors(dry_run=DryRunExecutor(cfg), real=real)
