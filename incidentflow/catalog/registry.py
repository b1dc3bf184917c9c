"""The catalog's registry: kinds by name, and actions built from typed params alone.

A kind's summary, risk, verification and undo are functions of its params: whoever proposes an
action (the rules engine, the LLM, a person's override) gives params, and the catalog writes
the prose. `problems()` refuses an action whose text or undo differs from what the catalog
generates for its params, so an approver never reads one thing while the executor runs another.
Pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incidentflow.agents.common import short_hash
from incidentflow.errors import ConfigError
from incidentflow.models import ActionParams, RemediationAction, Risk, VerifyKind, VerifySpec

RISK_ORDER = [Risk.LOW, Risk.MEDIUM, Risk.HIGH]


def _no_limits(params: Any) -> list[str]:
    return []


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
    # What the verification looks at for these params, besides the incident's alerts.
    check: Callable[[Any], str] = lambda p: ""
    # Why these params are out of bounds for the kind (a factor too large, min above max).
    limits: Callable[[Any], list[str]] = _no_limits
    # A params-dependent risk above the kind's floor (e.g. reverting a Secret).
    risk_of: Callable[[Any], Risk] | None = None


def span(seconds: int) -> str:
    """A verification window as a person reads it."""
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


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

    def risk(self, params: ActionParams) -> Risk:
        """The risk of these params: the kind's, or higher where the params make it so."""
        kind = self.get(params.kind)
        return kind.risk_of(params) if kind.risk_of is not None else kind.risk

    def verification(
        self,
        params: ActionParams,
        *,
        incident_id: str,
        alerts: list[str],
        window_seconds: int,
        runbook: str | None = None,
    ) -> VerifySpec:
        """How to tell these params helped: the kind's check, then the incident's alerts clear."""
        kind = self.get(params.kind)
        check = kind.check(params)
        names = ", ".join(sorted(set(alerts))) or "none"
        text = (
            f"{check + ' ' if check else ''}All alerts of {incident_id} ({names}) resolve "
            f"within {span(window_seconds)} of the action."
        )
        if runbook:
            text += f" Runbook: {runbook}."
        return VerifySpec(kind=kind.verify, window_seconds=window_seconds, description=text)

    def action(
        self,
        params: ActionParams,
        *,
        incident_id: str,
        n: int,
        alerts: list[str],
        window_seconds: int,
        runbook: str | None = None,
        executor: str = "dry-run",
    ) -> RemediationAction:
        """The whole action for `params`: every word of it generated here, none passed in."""
        short = incident_id.rsplit("-", 1)[-1]
        # The digest keeps ids of different actions apart: the executor's ledger runs an id once.
        digest = short_hash(incident_id, params.model_dump_json(), length=4)
        summary, undo, undo_summary = self.describe(params)
        return RemediationAction(
            id=f"act-{short}-{n}-{digest}",
            incident_id=incident_id,
            params=params,
            risk=self.risk(params),
            summary=summary,
            verify=self.verification(
                params,
                incident_id=incident_id,
                alerts=alerts,
                window_seconds=window_seconds,
                runbook=runbook,
            ),
            undo=undo,
            undo_summary=undo_summary,
            executor=executor,
        )

    def regenerate(self, action: RemediationAction) -> RemediationAction:
        """`action` with its summary, risk floor and undo rewritten from its params.

        For a person's override: they give params (and may raise the risk or shorten the
        verification window); the words an approver reads come from here.
        """
        summary, undo, undo_summary = self.describe(action.params)
        floor = self.risk(action.params)
        risk = max(action.risk, floor, key=RISK_ORDER.index)
        check = self.get(action.params.kind).check(action.params)
        verify = action.verify
        if check and not verify.description.startswith(check):
            verify = verify.model_copy(update={"description": f"{check} {verify.description}"})
        return action.model_copy(
            update={
                "summary": summary,
                "risk": risk,
                "undo": undo,
                "undo_summary": undo_summary,
                "verify": verify,
            }
        )

    def problems(self, action: RemediationAction) -> list[str]:
        """Why an action (from an agent or a person) does not match the catalog; [] when it does."""
        if action.params.kind not in self._kinds:
            return [f"action kind {action.params.kind!r} is not in the catalog"]
        kind = self._kinds[action.params.kind]
        found = [f"{kind.name}: {p}" for p in kind.limits(action.params)]
        floor = self.risk(action.params)
        if RISK_ORDER.index(action.risk) < RISK_ORDER.index(floor):
            found.append(
                f"risk {action.risk.value} is below the catalog's {floor.value} for {kind.name}"
            )
        summary, undo, undo_summary = self.describe(action.params)
        if action.undo != undo:
            found.append(f"undo does not match the catalog's undo for {kind.name}")
        if action.summary != summary or action.undo_summary != undo_summary:
            # The words an approver reads must be the catalog's words for these params.
            found.append(
                f"summary must be the catalog's for these params ({summary!r} / "
                f"{undo_summary!r}), not free text"
            )
        # http may carry any kind that has a route of its own (INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS).
        if action.executor not in (kind.executor, "dry-run", "http"):
            found.append(f"{kind.name} runs on the {kind.executor} executor, not {action.executor}")
        return found
