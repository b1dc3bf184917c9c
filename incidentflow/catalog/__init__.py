"""The action catalog: every kind of action IncidentFlow may take, registered explicitly.

A kind names its typed params model, its risk, the executor that carries it out, how to verify
it and how to undo it; summary, risk, verification and undo are generated from the params
(`Catalog.action`), never taken from free text. Agents (rules or LLM) and people pick a kind
and fill in its params; nobody writes a command line. Pure and deterministic: the incident
workflow validates a person's plan against it.

- `registry.py`: `Catalog`, `ActionKind`, building and checking an action;
- `changes.py`: taking back a recorded change (rollback, release, config, object, flag);
- `capacity.py`: capacity and placement (restart, scale, resources, HPA, node, traffic);
- here: runbook scripts and the no-op undo.

Extending it: add a params model to `ActionParams` (incidentflow/models/remediation.py), teach
an executor its operations, then `CATALOG.register(ActionKind(...))` (see README "Action
catalog").
"""

from __future__ import annotations

from incidentflow.catalog.capacity import MAX_FACTOR, register_capacity
from incidentflow.catalog.changes import register_changes
from incidentflow.catalog.registry import RISK_ORDER, ActionKind, Catalog, span
from incidentflow.models import ActionParams, NoopParams, Risk, RunbookScriptParams, VerifyKind

__all__ = [
    "CATALOG",
    "MAX_FACTOR",
    "RISK_ORDER",
    "ActionKind",
    "Catalog",
    "default_catalog",
    "span",
]


def _runbook_undo(p: RunbookScriptParams) -> ActionParams:
    if p.undo_script is None:
        return NoopParams(reason=f"runbook {p.script} declares no undo script")
    return RunbookScriptParams(script=p.undo_script, args=p.args)


def default_catalog() -> Catalog:
    """The built-in kinds (see the module docstring for where each family lives)."""
    c = Catalog()
    register_changes(c)
    register_capacity(c)
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
