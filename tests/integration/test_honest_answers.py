"""Issue 13 end to end on the real dev server: no borrowed evidence, incidents that follow
their alerts, and a rollback through an HTTP deploy API that really changes a version."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import app_stack, make_settings
from deploy_service import DeployService
from flow import DEMO_ORIGIN, fingerprints_of, wait_for_incident, wait_for_state
from remediation_flow import awaiting, fire, resolve_alerts, until

from incidentflow.cli import render
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import (
    DecisionRequest,
    IncidentState,
    InvestigationStatus,
    RollbackParams,
    VerificationStatus,
)
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

pytestmark = pytest.mark.slow


async def test_with_no_sources_the_incident_says_so_and_waits_for_a_person(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path / "data", evidence_bundle=None)
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        record = await wait_for_state(client, incident_id, {IncidentState.NEEDS_ATTENTION})
        # `temporal workflow signal` takes any JSON: a malformed one is recorded, not dropped.
        handle = client.get_workflow_handle(incident_id)
        await handle.signal("approve", {"who": "alice"})
        await handle.signal("pause", "now")
        await handle.signal("approve", {"by": "alice"})

        async def recorded() -> bool:
            rec = await IncidentClient(client).record(incident_id)
            return sum("signal" in e.summary or "refused" in e.summary for e in rec.timeline) >= 3

        await until(recorded, timeout=30)
        timeline = [e.summary for e in (await IncidentClient(client).record(incident_id)).timeline]
    malformed = [t for t in timeline if t.startswith("malformed ")]
    assert len(malformed) == 2, timeline
    assert malformed[0].startswith("malformed approve signal: ") and "by" in malformed[0]
    assert 'expected JSON like {"by": "alice", "reason": "..."}' in malformed[0]
    assert malformed[1].startswith("malformed pause signal: ")
    assert any(t.startswith("approval refused: ") for t in timeline), timeline
    inv, plan = record.investigation, record.plan
    assert inv is not None and inv.status is InvestigationStatus.NO_SOURCES
    assert all(h.confidence <= 0.2 for h in inv.hypotheses)
    assert not any(e.kind.value in ("change", "log", "metric") for e in inv.evidence)
    assert plan is not None and plan.action is None and "a person must decide" in plan.rationale
    text = render.record_text(record)
    assert "Investigation (rules, no_sources)" in text and "sources: none configured" in text
    assert "v2.15.0" not in text  # nothing of the bundled demo's deploy is borrowed


async def test_alerts_that_resolve_before_approval_withdraw_the_plan(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path / "data", resolved_settle_seconds=10)
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, payloads = await fire(stack)
        await awaiting(stack, incident_id)
        # A flap: everything resolves, then one alert fires again within the settle time.
        await resolve_alerts(stack, payloads)
        await asyncio.sleep(1)
        origin = fingerprints_of(payloads, DEMO_ORIGIN)
        again = copy.deepcopy(
            next(p for p in payloads if origin & fingerprints_of([p], "payments"))
        )
        again["alerts"] = [a for a in again["alerts"] if a["fingerprint"] in origin]
        for alert in again["alerts"]:
            # What Alertmanager sends for a re-fire: a new start, no end.
            alert["startsAt"] = datetime.now(UTC).isoformat()
            alert["endsAt"] = "0001-01-01T00:00:00Z"
        assert (await stack.post_alertmanager(again)).status_code == 202

        async def refired() -> bool:
            rec = await IncidentClient(client).record(incident_id)
            return any("fired again" in e.summary for e in rec.timeline)

        await until(refired, timeout=8)
        await asyncio.sleep(10)  # past the settle time of the first resolve
        still = await IncidentClient(client).record(incident_id)
        assert still.state is IncidentState.AWAITING_APPROVAL, "\n".join(
            e.summary for e in still.timeline
        )
        # Then it stays resolved: after the settle time the plan is withdrawn.
        await resolve_alerts(stack, payloads)
        handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
        final = await asyncio.wait_for(handle.result(), timeout=60)
        with pytest.raises(DecisionRefused, match=r"resolved on its own.+plan was withdrawn"):
            await IncidentClient(client).decide(
                incident_id, approve=True, request=DecisionRequest(by="bob")
            )

        # Once the stream has heard the incident ended, a re-fire opens a new incident.
        async def forgotten() -> bool:
            return not await IncidentClient(client).open_incidents(settings.environment)

        await until(forgotten, timeout=30)
        again["alerts"][0]["startsAt"] = datetime.now(UTC).isoformat()
        assert (await stack.post_alertmanager(again)).status_code == 202
        reopened = await wait_for_incident(client, settings, origin)
        assert reopened != incident_id
    assert final.state is IncidentState.RESOLVED
    assert final.approval is None and final.results == []
    withdrawn = [e.summary for e in final.timeline if e.summary.startswith("plan withdrawn")]
    assert len(withdrawn) == 1 and "none fired again within 10 s" in withdrawn[0]
    assert final.postmortem is not None


async def test_a_rollback_through_an_http_deploy_api_changes_the_version(
    dev_server: DevServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    with DeployService({"payments": "v2.15.0"}, secret=b"s3cret") as deployer:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            executor="http",
            executor_http_secret_file=secret,
            executor_http_actions={
                "rollback": {
                    "method": "POST",
                    "url": f"{deployer.base}/v1/services/{{service}}/rollback",
                    "body": {"to": "{to_version}", "from": "{from_version}"},
                }
            },
            verify_window_seconds=60,
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, payloads = await fire(stack)
            record = await awaiting(stack, incident_id)
            action = record.plan.action if record.plan else None
            assert action is not None and isinstance(action.params, RollbackParams)
            assert action.executor == "http"
            await IncidentClient(client).decide(
                incident_id, approve=True, request=DecisionRequest(by="al")
            )
            # The deploy service really rolls back; the alerts then resolve at their source.
            assert await asyncio.to_thread(deployer.changed.wait, 60)
            await resolve_alerts(stack, payloads)
            handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
            final = await asyncio.wait_for(handle.result(), timeout=60)
    assert deployer.versions == {"payments": "v2.14.0"}
    assert [c["body"] for c in deployer.calls] == [{"to": "v2.14.0", "from": "v2.15.0"}]
    assert final.state is IncidentState.CLOSED
    assert [(r.executor, r.dry_run) for r in final.results] == [("http", False)]
    assert final.verification is not None
    assert final.verification.status is VerificationStatus.PASSED
