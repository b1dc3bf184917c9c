"""Deciding from Slack: the decision-needed message's buttons, and what a click brings back.

The message (posted by `SlackNotifier`) carries Approve and Reject buttons whose value names
the incident. A click reaches `POST /v1/slack/interactions` on the ingest service
(incidentflow/ingest/people.py): the request's signature and timestamp are checked with the
Slack SDK's own verifier (v0 HMAC-SHA256 of `v0:<timestamp>:<body>` with the app's signing
secret, at most five minutes old), the Slack user is mapped to an identity from
INCIDENTFLOW_SLACK_USERS, and the same signed decision as the API's is sent. The message is
then updated through the interaction's `response_url` with the Slack SDK's webhook client:
replaced with the outcome once decided, or answered privately to the clicker when refused.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from incidentflow.models import Notification

APPROVE_ACTION = "incidentflow_approve"
REJECT_ACTION = "incidentflow_reject"
VERBS = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
# Seconds the outcome update may take (Slack answers fast; a slow one is logged, not retried).
UPDATE_TIMEOUT_S = 10


def decision_buttons(note: Notification) -> dict[str, Any]:
    """The actions block of a decision-needed message: Approve (primary) and Reject (danger)."""
    # The plan the message shows travels in the button: a click decides exactly that plan, and
    # the workflow refuses it (naming the current one) if the plan changed meanwhile.
    value = json.dumps(
        {"incident_id": note.incident_id, "plan_id": note.plan_id, "plan_digest": note.plan_digest}
    )
    return {
        "type": "actions",
        "block_id": "incidentflow_decision",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": value,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve this action?"},
                    "text": {"type": "plain_text", "text": note.proposed_action or "the plan"},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": value,
            },
        ],
    }


class BadInteraction(ValueError):
    """A payload that is not one of our button clicks."""


@dataclass(frozen=True)
class Click:
    """One press of our Approve or Reject button."""

    slack_user: str
    slack_name: str
    verb: str
    incident_id: str
    response_url: str
    text: str
    plan_id: str | None = None
    plan_digest: str | None = None


def verified(signing_secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """True when Slack signed this request within the last five minutes (the SDK checks)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return False  # Slack sends UTF-8; the SDK would raise on anything else
    return SignatureVerifier(signing_secret).is_valid_request(text, headers)


def parse_click(body: bytes) -> Click:
    """The button click in a `block_actions` interaction (form field `payload`)."""
    try:
        form = parse_qs(body.decode(), strict_parsing=True)
        payload = json.loads(form["payload"][0])
        action = payload["actions"][0]
        verb = VERBS[action["action_id"]]
        value = json.loads(action["value"])
        incident_id = value["incident_id"]
        plan_id, digest = value.get("plan_id"), value.get("plan_digest")
        user = payload["user"]
        message = payload.get("message") or {}
        click = Click(
            slack_user=str(user["id"]),
            slack_name=str(user.get("username") or user.get("name") or user["id"]),
            verb=verb,
            incident_id=str(incident_id),
            response_url=str(payload["response_url"]),
            text=str(message.get("text", "")),
            plan_id=str(plan_id) if plan_id else None,
            plan_digest=str(digest) if digest else None,
        )
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as err:
        raise BadInteraction(f"not an IncidentFlow button click ({type(err).__name__})") from err
    if payload.get("type") != "block_actions":
        raise BadInteraction("only block_actions interactions are handled")
    return click


def outcome_update(click: Click, outcome: str, *, final: bool) -> dict[str, Any]:
    """The message that replaces the original once decided (buttons gone when final)."""
    blocks: list[dict[str, Any]] = []
    if click.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": click.text}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]})
    if not final:
        blocks.append(
            decision_buttons(
                Notification.model_validate(
                    {
                        "kind": "decision_needed",
                        "incident_id": click.incident_id,
                        "title": "",
                        "severity": "",
                        "service": None,
                        "state": "awaiting_approval",
                        "summary": "",
                        "plan_id": click.plan_id,
                        "plan_digest": click.plan_digest,
                    }
                )
            )
        )
    return {"text": f"{click.text}\n{outcome}".strip(), "blocks": blocks, "replace_original": True}


async def respond(url: str, message: dict[str, Any]) -> int:
    """Post to an interaction's response_url with the Slack SDK; the HTTP status."""
    client = WebhookClient(url, timeout=UPDATE_TIMEOUT_S)
    response = await asyncio.to_thread(
        client.send,
        text=message.get("text"),
        blocks=message.get("blocks"),
        replace_original=message.get("replace_original"),
        response_type=message.get("response_type"),
    )
    return int(response.status_code)
