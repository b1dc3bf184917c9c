"""Notifications on the real dev server, received by loopback Slack-style and JSON webhooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import app_stack, make_settings
from fakes import Receiver
from remediation_flow import fire

from incidentflow.models import IncidentState, TimelineKind
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow


async def test_decision_needed_then_expiry_escalates_once(
    dev_server: DevServer, tmp_path: Path
) -> None:
    with Receiver() as slack, Receiver() as hook:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            approval_timeout_seconds=3,
            notify_slack_url=slack.url,
            notify_webhook_url=hook.url,
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, _ = await fire(stack)
            handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
            final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.state is IncidentState.EXPIRED and final.escalated
    kinds = [r["body"]["kind"] for r in hook.requests]
    assert kinds.count("decision_needed") == 1
    assert kinds.count("expired") == 1  # escalated once, never a reminder loop
    needed = next(r["body"] for r in hook.requests if r["body"]["kind"] == "decision_needed")
    assert needed["incident_id"] == incident_id
    assert needed["approve_command"] == f"incidentflow approve {incident_id}"  # runs as printed
    assert needed["proposed_action"].startswith("Roll payments back")
    assert needed["undo"] and needed["risk"] == "medium"
    # Slack gets the same messages as text and blocks, the approve command included.
    texts = [r["body"]["text"] for r in slack.requests]
    assert len(texts) == len(hook.requests)
    decision = next(t for t in texts if "Decision needed" in t)
    assert f"incidentflow approve {incident_id}" in decision and "Roll payments back" in decision
    assert any("Approval expired" in t for t in texts)
    sent = [e for e in final.timeline if e.kind is TimelineKind.NOTIFICATION]
    assert sent and all("slack, webhook" in e.summary for e in sent)
