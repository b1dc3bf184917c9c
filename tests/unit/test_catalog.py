"""The action catalog: explicit registration, undo and risk rules, and how a user extends it."""

from __future__ import annotations

import pytest

from incidentflow.catalog import CATALOG, ActionKind, Catalog
from incidentflow.errors import ConfigError
from incidentflow.models import (
    ApprovalPolicy,
    DrainParams,
    NoopParams,
    RemediationAction,
    RestartParams,
    Risk,
    RollbackParams,
    RunbookScriptParams,
    VerifyKind,
    VerifySpec,
)


def action(params: object, risk: Risk, undo: object) -> RemediationAction:
    summary, _, undo_summary = CATALOG.describe(params)  # type: ignore[arg-type]
    return RemediationAction(
        id="act-1",
        incident_id="INC-1",
        params=params,  # type: ignore[arg-type]
        risk=risk,
        summary=summary,
        verify=VerifySpec(description="d"),
        undo=undo,  # type: ignore[arg-type]
        undo_summary=undo_summary,
    )


def test_builtin_kinds_are_registered_with_risk_executor_and_undo() -> None:
    assert set(CATALOG.names()) >= {
        "rollback",
        "restart",
        "scale",
        "feature_flag",
        "drain",
        "failover",
        "runbook_script",
    }
    rb = RollbackParams(service="p", from_version="v2", to_version="v1")
    summary, undo, undo_summary = CATALOG.describe(rb)
    assert undo == RollbackParams(service="p", from_version="v1", to_version="v2")
    assert "v2" in undo_summary and "back" in summary
    assert CATALOG.get("drain").risk is Risk.HIGH and CATALOG.get("drain").executor == "http"
    assert CATALOG.describe(DrainParams(service="p", target="az-1"))[1] == DrainParams(
        service="p", target="az-1", drained=False
    )
    assert isinstance(CATALOG.describe(RestartParams(service="p"))[1], NoopParams)
    script = RunbookScriptParams(script="flush.sh", args={"zone": "a"}, undo_script="unflush.sh")
    assert CATALOG.describe(script)[1] == RunbookScriptParams(
        script="unflush.sh", args={"zone": "a"}
    )


def test_problems_catch_lowered_risk_and_wrong_undo() -> None:
    rb = RollbackParams(service="p", from_version="v2", to_version="v1")
    good = action(rb, Risk.MEDIUM, CATALOG.describe(rb)[1])
    assert CATALOG.problems(good) == []
    assert "below the catalog" in CATALOG.problems(action(rb, Risk.LOW, good.undo))[0]
    assert "undo does not match" in CATALOG.problems(action(rb, Risk.HIGH, rb))[0]


def test_a_user_registers_a_kind_once() -> None:
    catalog = Catalog()
    kind = ActionKind(
        name="restart",
        params=RestartParams,
        risk=Risk.LOW,
        executor="kubectl",
        verify=VerifyKind.ALERTS_RESOLVED,
        summary=lambda p: f"restart {p.service}",
        undo=lambda p: NoopParams(reason="nothing"),
        undo_summary=lambda p: "nothing",
    )
    catalog.register(kind)
    with pytest.raises(ConfigError, match="already registered"):
        catalog.register(kind)
    with pytest.raises(ConfigError, match="unknown action kind 'scale'"):
        catalog.get("scale")


def test_approval_policy_names_and_two_people_for_high_risk() -> None:
    policy = ApprovalPolicy(approvers={Risk.LOW: ["*"], Risk.HIGH: ["alice", "bob"]})
    assert policy.refusal("anyone", Risk.LOW, []) is None
    assert "may not approve medium" in (policy.refusal("alice", Risk.MEDIUM, []) or "")
    assert policy.required(Risk.HIGH) == 2 and policy.required(Risk.LOW) == 1
    assert "already approved" in (policy.refusal("alice", Risk.HIGH, ["alice"]) or "")
    assert policy.refusal("bob", Risk.HIGH, ["alice"]) is None
