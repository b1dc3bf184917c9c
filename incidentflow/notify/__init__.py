"""Notifiers: tell people when a decision is needed, when an incident changes state, on expiry.

Two wire formats: a Slack-compatible incoming webhook (`text` plus `blocks`; Mattermost and
Rocket.Chat take the same; with INCIDENTFLOW_NOTIFY_SLACK_BUTTONS, a decision-needed message
carries Approve and Reject buttons: incidentflow/notify/slack.py) and a generic JSON
webhook (the `Notification` model as JSON).
Built from settings by the agents' worker; nothing is contacted until a message is sent.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from incidentflow.models import Notification, NotificationKind
from incidentflow.notify.slack import decision_buttons
from incidentflow.settings import NotifySettings

# One attempt per call: the notify activity's retry policy owns retries.
SEND_TIMEOUT_S = 10.0

HEADLINES = {
    NotificationKind.DECISION_NEEDED: "Decision needed",
    NotificationKind.STATE_CHANGED: "State changed",
    NotificationKind.EXPIRED: "Approval expired",
    NotificationKind.ESCALATED: "Escalated",
    NotificationKind.PLAN_CHANGED: "Plan changed",
}


class Notifier(Protocol):
    name: str

    def payload(self, note: Notification) -> dict[str, Any]:
        """The JSON body this notifier posts for `note`."""
        ...

    def url(self) -> str:
        """Where it posts (may be secret: never logged)."""
        ...


def text_of(note: Notification) -> str:
    """The plain-text message: summary, proposed action, the exact approve command."""
    lines = [
        f"[{note.severity}] {HEADLINES[note.kind]}: {note.incident_id} {note.title}",
        f"state: {note.state}" + (f" · service: {note.service}" if note.service else ""),
        note.summary,
    ]
    if note.proposed_action:
        lines.append(f"proposed: {note.proposed_action} (risk {note.risk or '?'})")
    if note.undo:
        lines.append(f"undo: {note.undo}")
    if note.detail:
        lines.append(note.detail)
    if note.plan_id:
        lines.append(f"plan: {note.plan_id} ({(note.plan_digest or 'no action')[:19]})")
    if note.approve_command:
        lines.append(f"approve: `{note.approve_command}`")
    return "\n".join(lines)


class SlackNotifier:
    """A Slack-compatible incoming webhook; with `buttons`, decisions can be made in Slack."""

    name = "slack"

    def __init__(self, url: str, *, buttons: bool = False) -> None:
        self._url = url
        self._buttons = buttons

    def url(self) -> str:
        return self._url

    def payload(self, note: Notification) -> dict[str, Any]:
        text = text_of(note)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ]
        if note.approve_command:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"`{note.approve_command}`"}],
                }
            )
            if self._buttons and note.kind is NotificationKind.DECISION_NEEDED:
                blocks.append(decision_buttons(note))
        return {"text": text, "blocks": blocks}


class WebhookNotifier:
    """A generic JSON webhook: the notification model itself, plus the rendered text."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self._url = url

    def url(self) -> str:
        return self._url

    def payload(self, note: Notification) -> dict[str, Any]:
        return {**note.model_dump(mode="json"), "text": text_of(note)}


def build_notifiers(cfg: NotifySettings) -> list[Notifier]:
    """The notifiers the settings configure (none by default)."""
    found: list[Notifier] = []
    if cfg.notify_slack_url is not None:
        # The worker needs no Slack secret to add buttons: the ingest verifies the clicks.
        url = cfg.notify_slack_url.get_secret_value()
        found.append(SlackNotifier(url, buttons=cfg.notify_slack_buttons))
    if cfg.notify_webhook_url:
        found.append(WebhookNotifier(cfg.notify_webhook_url))
    return found


async def send(notifier: Notifier, note: Notification, client: httpx.AsyncClient) -> str | None:
    """Post one notification; None when delivered, else why not (without the URL)."""
    try:
        resp = await client.post(
            notifier.url(), json=notifier.payload(note), timeout=SEND_TIMEOUT_S
        )
    except httpx.HTTPError as err:
        return f"{notifier.name}: {type(err).__name__}"
    if resp.status_code >= 300:
        return f"{notifier.name}: HTTP {resp.status_code}"
    return None
