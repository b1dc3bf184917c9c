"""Kinds that take back a recorded change: a deploy, a release, a config value, an object, a flag.

Each one's params hold both sides of the change (what it left, what it found), so the undo is
the same kind with the sides swapped and an approver reads exactly what will be restored.
"""

from __future__ import annotations

from incidentflow.catalog.registry import ActionKind, Catalog
from incidentflow.models import (
    ConfigRevertParams,
    FeatureFlagParams,
    InfraRevertParams,
    ReleaseRollbackParams,
    Risk,
    RollbackParams,
    VerifyKind,
)

SHOWN = 40  # characters of a config value an approver sees inline


def _value(text: str) -> str:
    return repr(text) if len(text) <= SHOWN else f"{text[:SHOWN]!r}... ({len(text)} chars)"


def _where(p: ConfigRevertParams) -> str:
    if p.source == "env":
        return f"env {p.key} of deployment/{p.service}"
    return f"{p.source} {p.name} key {p.key}"


def _config_summary(p: ConfigRevertParams) -> str:
    # A Secret's values are never shown, only that it changes.
    shown = "" if p.source == "secret" else f" from {_value(p.from_value)} to {_value(p.to_value)}"
    restart = "" if p.source == "env" else f", then restart {p.service} to read it"
    return f"Revert {_where(p)}{shown}{restart}"


def _config_undo(p: ConfigRevertParams) -> ConfigRevertParams:
    return p.model_copy(update={"from_value": p.to_value, "to_value": p.from_value})


def _infra_target(p: InfraRevertParams) -> str:
    ns = f" in {p.namespace}" if p.namespace else ""
    return f"{p.object_kind}/{p.name}{ns}"


def _infra_summary(p: InfraRevertParams) -> str:
    if p.to_manifest is None:
        return f"Delete {_infra_target(p)}, which the change created"
    if p.from_manifest is None:
        return f"Re-create {_infra_target(p)}, which the change deleted, from its recorded manifest"
    return f"Restore {_infra_target(p)} to its manifest recorded before the change"


def _infra_undo(p: InfraRevertParams) -> InfraRevertParams:
    return p.model_copy(update={"from_manifest": p.to_manifest, "to_manifest": p.from_manifest})


def _infra_limits(p: InfraRevertParams) -> list[str]:
    if p.from_manifest is None and p.to_manifest is None:
        return ["an object absent before and after the change has nothing to revert"]
    return []


def register_changes(c: Catalog) -> None:
    """Register rollback, release_rollback, config_revert, infra_revert and feature_flag."""
    c.register(
        ActionKind(
            name="rollback",
            params=RollbackParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: f"Roll {p.service} back from {p.from_version} to {p.to_version}",
            undo=lambda p: RollbackParams(
                service=p.service, from_version=p.to_version, to_version=p.from_version
            ),
            undo_summary=lambda p: f"Roll {p.service} forward again to {p.from_version}",
            check=lambda p: f"deployment/{p.service} runs {p.to_version}.",
        )
    )
    c.register(
        ActionKind(
            name="release_rollback",
            params=ReleaseRollbackParams,
            risk=Risk.MEDIUM,
            executor="http",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=lambda p: (
                f"Roll {p.tool} release {p.release} ({p.service}) back from revision "
                f"{p.from_revision} to {p.to_revision}"
            ),
            # Helm and Argo CD record a rollback as a new revision whose content is the old
            # one; the undo is "go back to the revision the change made".
            undo=lambda p: p.model_copy(
                update={"from_revision": p.to_revision, "to_revision": p.from_revision}
            ),
            undo_summary=lambda p: (
                f"Sync {p.tool} release {p.release} to revision {p.from_revision}"
            ),
            check=lambda p: (
                f"{p.tool} release {p.release} serves revision {p.to_revision}'s content."
            ),
            limits=lambda p: [] if p.from_revision != p.to_revision else ["revisions must differ"],
        )
    )
    c.register(
        ActionKind(
            name="config_revert",
            params=ConfigRevertParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=_config_summary,
            undo=_config_undo,
            undo_summary=lambda p: f"Set {_where(p)} back to the value the change wrote",
            check=lambda p: (
                f"{_where(p)} holds the value recorded before the change and "
                f"deployment/{p.service} finished its rollout."
            ),
            limits=lambda p: [] if p.from_value != p.to_value else ["the values must differ"],
            # A Secret holds credentials: reverting one is a decision for two people.
            risk_of=lambda p: Risk.HIGH if p.source == "secret" else Risk.MEDIUM,
        )
    )
    c.register(
        ActionKind(
            name="infra_revert",
            params=InfraRevertParams,
            risk=Risk.MEDIUM,
            executor="kubectl",
            verify=VerifyKind.ALERTS_RESOLVED,
            summary=_infra_summary,
            undo=_infra_undo,
            undo_summary=lambda p: f"Put {_infra_target(p)} back as the change left it",
            check=lambda p: (
                f"{_infra_target(p)} is "
                + ("absent." if p.to_manifest is None else "as its recorded manifest says.")
            ),
            limits=_infra_limits,
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
            check=lambda p: f"feature flag {p.flag} reads {p.to_value}.",
        )
    )
