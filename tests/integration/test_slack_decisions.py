"""Deciding from Slack, end to end (issue 19 item 5), against a loopback stand-in for Slack.

The stand-in is two real HTTP servers on loopback: one takes the incoming-webhook messages
IncidentFlow posts, the other is the `response_url` Slack hands out with each click. A click
is sent as Slack sends it: a `block_actions` payload, form-encoded, signed with the app's
signing secret (`v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`, computed here by hand; the app
checks it with the Slack SDK's verifier). The workflow runs on the real dev server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from conftest import Stack, app_stack, make_settings
from fakes import Receiver
from remediation_flow import awaiting, fire, until

from incidentflow.client import IncidentClient
from incidentflow.identity.signing import new_key_pair
from incidentflow.models import Decision, DecisionPath
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
USERS = {"U0ALICE": "alice", "U0MALLORY": "mallory"}


def click_body(message: dict[str, Any], action_id: str, user: str, response_url: str) -> bytes:
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    button = next(b for b in buttons if b["action_id"] == action_id)
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "actions": [{"action_id": action_id, "value": button["value"], "type": "button"}],
        "response_url": response_url,
        "message": {"text": message["text"]},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def send_click(
    stack: Stack, body: bytes, *, at: float | None = None, secret: str = SECRET
) -> httpx.Response:
    """POST a click as Slack does: signed with the app's signing secret at `at`."""
    stamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return await stack.http.post(
        "/v1/slack/interactions",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + mac.hexdigest(),
        },
    )


async def test_approve_from_slack_buttons(dev_server: DevServer, tmp_path: Path) -> None:
    with Receiver() as slack, Receiver() as responses:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            decisions_allow_unsigned=False,
            decision_signing_key=new_key_pair()[0],
            decision_roles={"payments": {"approvers": ["alice"]}},
            notify_slack_url=slack.url,
            notify_slack_buttons=True,
            slack_signing_secret=SECRET,
            slack_users=USERS,
            slack_response_url_prefix="http://127.0.0.1:",
            approval_timeout_seconds=600,
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, _ = await fire(stack)
            await awaiting(stack, incident_id)

            def needed() -> dict[str, Any] | None:
                return next(
                    (r["body"] for r in slack.requests if "Decision needed" in r["body"]["text"]),
                    None,
                )

            async def arrived() -> bool:
                return needed() is not None

            await until(arrived, timeout=30)
            message = needed()
            assert message is not None
            actions = [b for b in message["blocks"] if b["type"] == "actions"]
            assert [e["text"]["text"] for e in actions[0]["elements"]] == ["Approve", "Reject"]
            # The buttons carry the plan the message shows: a click decides exactly that one.
            shown = json.loads(actions[0]["elements"][0]["value"])
            pending = (await IncidentClient(client).record(incident_id)).plan
            assert pending is not None and shown["incident_id"] == incident_id
            assert (shown["plan_id"], shown["plan_digest"]) == (pending.id, pending.digest)

            approve = click_body(message, "incidentflow_approve", "U0ALICE", responses.url)
            # Not Slack: a wrong secret, a stale (replayed) timestamp, no signature at all.
            assert (await send_click(stack, approve, secret="guess")).status_code == 401
            stale = await send_click(stack, approve, at=time.time() - 600)
            assert stale.status_code == 401
            unsigned = await stack.http.post(
                "/v1/slack/interactions",
                content=approve,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert unsigned.status_code == 401

            # A Slack user mapped to nobody, and mallory who has no role, are told privately.
            for user in ("U0EVE", "U0MALLORY"):
                body = click_body(message, "incidentflow_approve", user, responses.url)
                assert (await send_click(stack, body)).status_code == 200

            async def answered(n: int) -> bool:
                return len(responses.requests) >= n

            await until(lambda: answered(2), timeout=30)
            eve, mallory = (r["body"] for r in responses.requests[:2])
            assert eve["response_type"] == "ephemeral" and "not mapped" in eve["text"]
            assert mallory["response_type"] == "ephemeral"
            assert "refused for mallory (recorded)" in mallory["text"]

            # alice approves in Slack: the same signed decision as the API's.
            assert (await send_click(stack, approve)).status_code == 200
            await until(lambda: answered(3), timeout=30)
            update = responses.requests[2]["body"]
            assert update["replace_original"] is True
            assert f"{incident_id}: approved* by alice" in update["text"]
            assert not [b for b in update["blocks"] if b["type"] == "actions"]  # buttons gone

            handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
            final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.approval is not None and final.approval.decision is Decision.APPROVED
    assert (final.approval.by, final.approval.path) == ("alice", DecisionPath.SLACK)
    assert final.approval.authenticated and final.approval.plan_digest == shown["plan_digest"]
    assert final.approval.plan_id == shown["plan_id"]
    refused = [d for d in final.decisions if d.decision is Decision.REFUSED]
    assert [(d.by, d.path) for d in refused] == [("mallory", DecisionPath.SLACK)]


def test_decision_buttons_only_when_configured() -> None:
    from incidentflow.models import Notification, NotificationKind
    from incidentflow.notify import SlackNotifier

    note = Notification(
        kind=NotificationKind.DECISION_NEEDED,
        incident_id="INC-1",
        title="t",
        severity="high",
        service="payments",
        state="awaiting_approval",
        summary="s",
        proposed_action="Roll payments back",
        approve_command="incidentflow approve INC-1",
    )
    with_buttons = SlackNotifier("http://x", buttons=True).payload(note)["blocks"]
    without = SlackNotifier("http://x").payload(note)["blocks"]
    assert [b["type"] for b in with_buttons][-1] == "actions"
    assert "actions" not in [b["type"] for b in without]
