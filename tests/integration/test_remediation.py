"""Approved actions on the real dev server: executed once, verified, undone when they fail.

No Kubernetes cluster is reachable from the tests, so these put a recording `kubectl` on the
executor's path (tests/integration/fakes.py); the http executor talks to a real loopback
receiver that checks the HMAC signature and applies each Idempotency-Key once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import app_stack, make_settings
from fakes import Receiver, install_fake_kubectl, kubectl_calls, kubectl_state
from flow import wait_for_state
from remediation_flow import awaiting, fire, resolve_alerts
from temporalio.client import Client

from incidentflow.catalog import CATALOG
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import (
    ActionStatus,
    Decision,
    DecisionRequest,
    FailoverParams,
    IncidentRecord,
    IncidentState,
    OverrideRequest,
    RemediationPlan,
    Risk,
    Stage,
    StageRequest,
    TakeoverRequest,
    VerificationStatus,
    VerifySpec,
)
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

DEPLOYMENTS = {"payments": {"images": ["payments:v2.14.0", "payments:v2.15.0"], "replicas": 3}}


async def test_approve_then_verify_ok_closes(dev_server: DevServer, tmp_path: Path) -> None:
    kubectl = install_fake_kubectl(tmp_path / "bin", DEPLOYMENTS)
    settings = make_settings(
        dev_server.address,
        tmp_path / "data",
        executor="kubectl",
        executor_kubectl=str(kubectl),
        verify_window_seconds=60,
    )
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, payloads = await fire(stack)
        await awaiting(stack, incident_id)
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="alice")
        )
        await wait_for_state(client, incident_id, {IncidentState.VERIFYING})
        await resolve_alerts(stack, payloads)
        handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
        final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.state is IncidentState.CLOSED
    assert final.verification is not None
    assert final.verification.status is VerificationStatus.PASSED
    assert [(r.executor, r.dry_run, r.undo) for r in final.results] == [("kubectl", False, False)]
    assert kubectl_state(kubectl)["deployments"]["payments"]["images"][-1] == "payments:v2.14.0"
    assert sum(c.startswith("rollout undo") for c in kubectl_calls(kubectl)) == 1
    pm_dir = settings.postmortems_path
    assert (pm_dir / f"{incident_id}.md").read_text() == final.postmortem.markdown  # type: ignore[union-attr]


async def test_verify_fails_then_undo_runs_and_parks(dev_server: DevServer, tmp_path: Path) -> None:
    kubectl = install_fake_kubectl(tmp_path / "bin", DEPLOYMENTS)
    settings = make_settings(
        dev_server.address,
        tmp_path / "data",
        executor="kubectl",
        executor_kubectl=str(kubectl),
        verify_window_seconds=2,
    )
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="alice")
        )
        parked = await wait_for_state(client, incident_id, {IncidentState.NEEDS_ATTENTION})
        # Parked, not looping: still parked a moment later, with exactly one do and one undo.
        await asyncio.sleep(2)
        again = await IncidentClient(client).record(incident_id)
        assert again.state is IncidentState.NEEDS_ATTENTION
        assert [r.undo for r in again.results] == [False, True]
        assert parked.verification is not None
        assert parked.verification.status is VerificationStatus.FAILED
        assert parked.parked_stage == "execution"
        images = kubectl_state(kubectl)["deployments"]["payments"]["images"]
        assert images[-2:] == ["payments:v2.14.0", "payments:v2.15.0"]  # rolled back, then undone
        with pytest.raises(DecisionRefused, match="already ran"):
            await IncidentClient(client).take_over(
                incident_id,
                "retry",
                StageRequest(by="bob", stage=Stage.EXECUTION),
            )
        await IncidentClient(client).take_over(
            incident_id, "resolve", TakeoverRequest(by="bob", text="fixed")
        )
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.CLOSED
    assert sum(c.startswith("rollout undo") for c in kubectl_calls(kubectl)) == 2
    md = final.postmortem.markdown if final.postmortem else ""
    assert "did not clear the alerts" in md and "undid" in md


def _failover_plan(record_plan: RemediationPlan, incident_id: str) -> RemediationPlan:
    params = FailoverParams(service="payments", from_target="eu-west-1", to_target="eu-central-1")
    summary, undo, undo_summary = CATALOG.describe(params)
    action = record_plan.action.model_copy(  # type: ignore[union-attr]
        update={
            "id": "act-person-failover-1",
            "params": params,
            "risk": Risk.HIGH,
            "summary": summary,
            "undo": undo,
            "undo_summary": undo_summary,
            "verify": VerifySpec(window_seconds=2, description="alerts resolve in 2 s"),
            # The agent's action names its own real executor (kubectl for a rollback).
            "executor": "http",
        }
    )
    return record_plan.model_copy(
        update={"action": action, "alternatives": [], "rationale": "fail over, region is sick"}
    )


async def test_high_risk_needs_two_allowed_approvers(dev_server: DevServer, tmp_path: Path) -> None:
    secret = b"test-hmac-key"
    secret_file = tmp_path / "http.secret"
    secret_file.write_bytes(secret)
    with Receiver(secret=secret) as receiver:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            executor="http",
            executor_http_url=receiver.url,
            executor_http_secret_file=secret_file,
            approval_policy={"low": ["*"], "medium": ["*"], "high": ["alice", "bob"]},
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, _ = await fire(stack)
            record = await awaiting(stack, incident_id)
            assert record.plan is not None
            plan = _failover_plan(record.plan, incident_id)
            await IncidentClient(client).take_over(
                incident_id,
                "override",
                OverrideRequest(by="carol", stage=Stage.PLANNING, plan=plan, reason="region"),
            )
            record = await _until(client, incident_id, lambda r: r.plan.action.risk is Risk.HIGH)
            assert record.state is IncidentState.AWAITING_APPROVAL
            first = await IncidentClient(client).decide(
                incident_id, approve=True, request=_by("alice")
            )
            assert first.decision is Decision.APPROVED and first.approvers == ["alice"]
            for who, why in (("alice", "already approved"), ("mallory", "may not approve high")):
                with pytest.raises(DecisionRefused, match=why):
                    await IncidentClient(client).decide(incident_id, approve=True, request=_by(who))
            assert receiver.requests == []  # nothing ran on one approval
            final_ok = await IncidentClient(client).decide(
                incident_id, approve=True, request=_by("bob")
            )
            assert final_ok.approvers == ["alice", "bob"]
            parked = await wait_for_state(client, incident_id, {IncidentState.NEEDS_ATTENTION})
            await IncidentClient(client).take_over(
                incident_id, "resolve", TakeoverRequest(by="bob")
            )
            final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    refused = [(d.by, d.decision) for d in final.decisions if d.decision is Decision.REFUSED]
    assert refused == [("alice", Decision.REFUSED), ("mallory", Decision.REFUSED)]
    assert final.plan is not None and final.plan.engine.value == "person"
    assert [r.status for r in parked.results] == [ActionStatus.OK, ActionStatus.OK]
    # The receiver saw the failover and its undo, each signed, each under its own key, once.
    assert receiver.bad_signatures == 0
    assert sorted(receiver.effects) == ["act-person-failover-1:do", "act-person-failover-1:undo"]
    assert receiver.effects["act-person-failover-1:do"]["action"]["to_target"] == "eu-central-1"
    assert receiver.effects["act-person-failover-1:undo"]["action"]["to_target"] == "eu-west-1"


def _by(name: str) -> DecisionRequest:
    return DecisionRequest(by=name, reason="checked the evidence")


async def _until(
    client: Client, incident_id: str, ok: Callable[[IncidentRecord], bool], timeout: float = 30
) -> IncidentRecord:
    async with asyncio.timeout(timeout):
        while True:
            record = await IncidentClient(client).record(incident_id)
            try:
                if ok(record):
                    return record
            except AttributeError:  # the plan is not there yet
                pass
            await asyncio.sleep(0.2)
