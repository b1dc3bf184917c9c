"""Notifications: post a message to every configured notifier (agents' worker)."""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from incidentflow.models import Notification, NotifyResult
from incidentflow.notify import Notifier, send


class NotifyActivities:
    def __init__(self, notifiers: list[Notifier]) -> None:
        self._notifiers = notifiers

    @activity.defn(name="notify")
    async def notify(self, note: Notification) -> NotifyResult:
        """Deliver `note` everywhere configured; retried by Temporal only if none took it."""
        delivered: list[str] = []
        failed: list[str] = []
        async with httpx.AsyncClient() as client:
            for notifier in self._notifiers:
                why = await send(notifier, note, client)
                if why is None:
                    delivered.append(notifier.name)
                else:
                    failed.append(why)
        if failed and not delivered:
            raise ApplicationError(f"{note.incident_id}: no notifier took it: {'; '.join(failed)}")
        return NotifyResult(delivered=delivered, failed=failed)
