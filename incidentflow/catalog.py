"""The action catalog: every kind of action IncidentFlow may take, registered explicitly.

A kind names its typed params model, its risk, the executor that carries it out, how to verify
it and how to undo it. Agents (rules or LLM) and people pick a kind and fill in its params;
nobody writes a command line. Pure and deterministic: the incident workflow validates a
person's plan against it.

Extending it: add a params model to `ActionParams` (incidentflow/models/remediation.py), teach
an executor its operations, then `CATALOG.register(ActionKind(...))` (see README "Action
catalog").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incidentflow.errors import ConfigError
from incidentflow.models import (
    ActionParams,
    DrainParams,
    FailoverParams,
    FeatureFlagParams,
    NoopParams,
    RemediationAction,
    RestartParams,
    Risk,
    RollbackParams,
    RunbookScriptParams,
    ScaleParams,
    VerifyKind,
)

RISK_ORDER = [Risk.LOW, Risk.MEDIUM, Risk.HIGH]


@dataclass(frozen=True)
class ActionKind:
    """One registered kind: its params type, risk, executor, verification and undo."""

    name: str
    params: type[Any]
    risk: Risk
    executor: str
    verify: VerifyKind
    summary: Callable[[Any], str]
    undo: Callable[[Any], ActionParams]
    undo_summary: Callable[[Any], str]


class Catalog:
    """Kinds by name; nothing is available until registered."""

    def __init__(self) -> None:
        self._kinds: dict[str, ActionKind] = {}

    def register(self, kind: ActionKind) -> ActionKind:
        """Add a kind; registering a name twice is a mistake worth stopping for."""
        if kind.name in self._kinds:
            raise ConfigError(f"action kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> ActionKind:
        """The kind called `name`, or a ConfigError listing the known kinds."""
        found = self._kinds.get(name)
        if found is None:
            raise ConfigError(f"unknown action kind {name!r}; known: {', '.join(self.names())}")
        return found

    def names(self) -> list[str]:
        """Registered kind names, sorted."""
        return sorted(self._kinds)

    def describe(self, params: ActionParams) -> tuple[str, ActionParams, str]:
        """(summary, undo params, undo summary) for params of a registered kind."""
        kind = self.get(params.kind)
        return kind.summary(params), kind.undo(params), kind.undo_summary(params)

    def problems(self, action: RemediationAction) -> list[str]:
        """Why an action (from an agent or a person) does not match the catalog; [] when it does."""
        if action.params.kind not in self._kinds:
            return [f"action kind {action.params.kind!r} is not in the catalog"]
        kind = self._kinds[action.params.kind]
        found: list[str] = []
        if RISK_ORDER.index(action.risk) < RISK_ORDER.index(kind.risk):
            found.append(
                f"risk {action.risk.value} is below the catalog's {kind.risk.value} for {kind.name}"
            )
        if action.undo != kind.undo(action.params):
            found.append(f"undo does not match the catalog's undo for {kind.name}")
        # http may carry any kind that has a route of its own (INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS).
        if action.executor not in (kind.executor, "dry-run", "http"):
            found.append(f"{kind.name} runs on the {kind.executor} executor, not {action.executor}")
        return found


def _rollback_undo(p: RollbackParams) -> ActionParams:
    return RollbackParams(service=p.service, from_version=p.to_version, to_version=p.from_version)


def _scale_undo(p: ScaleParams) -> ActionParams:
    return ScaleParams(service=p.service, from_replicas=p.to_replicas, to_replicas=p.from_replicas)


def _runbook_undo(p: RunbookScriptParams) -> ActionParams:
    if p.undo_script is None:
        return NoopParams(reason=f"runbook {p.script} declares no undo script")
    return RunbookScriptParams(script=p.undo_script, args=p.args)


def default_catalog() -> Catalog:
    """The built-in kinds: rollback, restart, scale, feature flag, drain, fail over, runbook."""
    c = Catalog()
    c.register(
        ActionKind(
            name="rollback",
            params=RollbackParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Roll {p.service} back from {p.from_version} to {p.to_version}",
            undo=_rollback_undo,
            undo_summary=lambda p: f"Roll {p.service} forward again to {p.from_version}",
        )
    )
    c.register(
        ActionKind(
            name="restart",
            params=RestartParams,
            risk=Risk.LOW,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Restart {p.service} (rolling)",
            # A rolling restart leaves the service as it was: there is nothing to take back.
            undo=lambda p: NoopParams(reason=f"a rolling restart of {p.service} needs no undo"),
            undo_summary=lambda p: (
                f"Nothing to undo: a rolling restart of {p.service} leaves it as it was"
            ),
        )
    )
    c.register(
        ActionKind(
            name="scale",
            params=ScaleParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Scale {p.service} from {p.from_replicas} to {p.to_replicas} replicas"
            ),
            undo=_scale_undo,
            undo_summary=lambda p: f"Scale {p.service} back to {p.from_replicas} replicas",
        )
    )
    c.register(
        ActionKind(
            name="feature_flag",
            params=FeatureFlagParams,
            risk=Risk.MEDIUM,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Set feature flag {p.flag} to {p.to_value}",
            undo=lambda p: p.model_copy(
                update={"from_value": p.to_value, "to_value": p.from_value}
            ),
            undo_summary=lambda p: f"Set feature flag {p.flag} back to {p.from_value}",
        )
    )
    c.register(
        ActionKind(
            name="drain",
            params=DrainParams,
            risk=Risk.HIGH,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"{'Drain' if p.drained else 'Restore'} {p.service} traffic "
                f"{'from' if p.drained else 'to'} {p.target}"
            ),
            undo=lambda p: p.model_copy(update={"drained": not p.drained}),
            undo_summary=lambda p: (
                f"{'Restore' if p.drained else 'Drain'} {p.service} traffic on {p.target}"
            ),
        )
    )
    c.register(
        ActionKind(
            name="failover",
            params=FailoverParams,
            risk=Risk.HIGH,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Fail {p.service} over from {p.from_target} to {p.to_target}",
            undo=lambda p: FailoverParams(
                service=p.service, from_target=p.to_target, to_target=p.from_target
            ),
            undo_summary=lambda p: f"Fail {p.service} back to {p.from_target}",
        )
    )
    c.register(
        ActionKind(
            name="runbook_script",
            params=RunbookScriptParams,
            risk=Risk.MEDIUM,
            executor="script",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Run runbook script {p.script}"
                + (
                    f" ({', '.join(f'{k}={v}' for k, v in sorted(p.args.items()))})"
                    if p.args
                    else ""
                )
            ),
            undo=_runbook_undo,
            undo_summary=lambda p: (
                f"Run runbook script {p.undo_script}"
                if p.undo_script
                else f"Nothing to undo: {p.script} declares no undo script"
            ),
        )
    )
    c.register(
        ActionKind(
            name="noop",
            params=NoopParams,
            risk=Risk.LOW,
            executor="dry-run",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Nothing: {p.reason}",
            undo=lambda p: p,
            undo_summary=lambda p: "Nothing to undo",
        )
    )
    return c


# The catalog every process uses; extend it by registering at import of your plug-in module.
CATALOG = default_catalog()
