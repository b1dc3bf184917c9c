"""Executing and undoing actions: registered only by the remediation worker.

This module is the only one that touches executor credentials; the agents' worker never
imports it, so its task queue is the only place an action can run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from incidentflow.errors import ExecutorUnavailable, IncidentFlowError
from incidentflow.executors import Executors, Ledger
from incidentflow.models import ActionResult, ActionStatus, ExecuteInput

# Heartbeat well inside the workflow's heartbeat timeout while an executor works.
HEARTBEAT_EVERY_S = 2.0


async def _heartbeating(work: Coroutine[Any, Any, str], key: str) -> str:
    """Await `work`, heartbeating so Temporal can tell a slow rollout from a dead worker."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
        if done:
            return task.result()
        activity.heartbeat(f"still running {key}")


class ExecutionActivities:
    def __init__(self, *, executors: Executors, ledger: Ledger) -> None:
        self._executors = executors
        self._ledger = ledger

    @activity.defn(name="execute_action")
    async def execute_action(self, inp: ExecuteInput) -> ActionResult:
        """Run the action (or its undo) exactly once per idempotency key."""
        action = inp.action
        key = f"{action.id}:{'undo' if inp.undo else 'do'}"
        done = self._ledger.get(key)
        if done is not None:
            activity.logger.info("action %s already took effect; not running it again", key)
            return done.model_copy(update={"status": ActionStatus.ALREADY_DONE})
        params = action.undo if inp.undo else action.params
        # Intent before acting: a retry after a crash between acting and recording the result
        # learns that an earlier attempt may have acted, and the executor is told so.
        attempt = self._ledger.begin(key)
        activity.heartbeat(f"running {key} (attempt {attempt})")
        try:
            executor = self._executors.for_params(params)
            operations = executor.describe(params, key=key)
            output = await _heartbeating(
                asyncio.to_thread(executor.apply, params, key=key, attempt=attempt), key
            )
        except ExecutorUnavailable as err:
            # The target may come back: Temporal retries with the same key.
            raise ApplicationError(f"{action.incident_id}: {key}: {err}") from err
        except IncidentFlowError as err:
            raise ApplicationError(
                f"{action.incident_id}: could not run {key}: {err}", non_retryable=True
            ) from err
        result = ActionResult(
            action_id=action.id,
            undo=inp.undo,
            status=ActionStatus.OK,
            executor=executor.name,
            dry_run=executor.dry_run,
            would_run=operations,
            output=output,
            executed_at=datetime.now(UTC),
        )
        self._ledger.put(key, result)
        return result
