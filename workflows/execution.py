"""Execute -> verify -> undo one approved action: a plain helper the incident's run loop calls.

The action runs on the remediation task queue (its own worker, its own credentials); it is
verified in its window (every alert resolved, or a PromQL condition polled through the agents'
worker), and undone automatically when verification fails. The runner holds no incident
state: it reads the alerts and who resolved through the callables it is given, reports
through `event` and `set_state`, and returns what happened.

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.execution import ExecutionActivities
    from activities.remediation import RemediationActivities
    from incidentflow.metrics import record_verification
    from incidentflow.models import (
        ActionResult,
        Alert,
        AlertStatus,
        ExecuteInput,
        IncidentState,
        RemediationAction,
        TimelineEvent,
        TimelineKind,
        Verification,
        VerificationStatus,
        VerifyCheck,
        VerifyKind,
    )
    from workflows import policies


@dataclass
class ActOutcome:
    """verified: True passed (or nothing to verify), False failed and undone, None did not run."""

    verified: bool | None


@dataclass
class ActionRunner:
    """One approved action's execution; built by the incident workflow for each attempt."""

    incident_id: str
    agent_queue: str
    remediation_queue: str
    poll_seconds: int
    alerts: Callable[[], list[Alert]]
    resolved_by: Callable[[], str | None]
    event: Callable[[TimelineKind, str, str], TimelineEvent]
    set_state: Callable[[IncidentState, str], None]
    # Recorded as they happen, so the record shows an action while it is being verified.
    keep_result: Callable[[ActionResult], None]
    keep_verification: Callable[[Verification], None]

    async def run(self, action: RemediationAction) -> ActOutcome:
        """Execute, verify, undo on failure (see ActOutcome)."""
        self.set_state(IncidentState.EXECUTING, f"the remediation worker to run {action.id}")
        result = await self._run_executor(action, undo=False)
        if result is None:
            return ActOutcome(verified=None)
        self.event(
            TimelineKind.ACTION,
            f"executor:{result.executor}",
            f"{'would run' if result.dry_run else 'ran'}: {'; '.join(result.would_run)}",
        )
        verification = await self._verify(action, result)
        self.keep_verification(verification)
        record_verification(action.verify.kind.value, verification.status.value)  # no command
        self.event(TimelineKind.VERIFICATION, "system", verification.detail)
        if verification.status is not VerificationStatus.FAILED:
            return ActOutcome(verified=True)
        self.set_state(IncidentState.UNDOING, f"the remediation worker to undo {action.id}")
        undone = await self._run_executor(action, undo=True)
        if undone is not None:
            self.event(
                TimelineKind.ACTION, f"executor:{undone.executor}", f"undid: {action.undo_summary}"
            )
        # Verification failed, so the incident is not over: it parks for a person, never loops.
        return ActOutcome(verified=False)

    async def _run_executor(self, action: RemediationAction, *, undo: bool) -> ActionResult | None:
        what = "undo" if undo else "execute"
        try:
            result = await workflow.execute_activity_method(
                ExecutionActivities.execute_action,
                ExecuteInput(action=action, undo=undo),
                task_queue=self.remediation_queue,
                start_to_close_timeout=policies.EXECUTE_TIMEOUT,
                heartbeat_timeout=policies.EXECUTE_HEARTBEAT,
                retry_policy=policies.EXECUTE_RETRY,
                summary=f"{what}: {action.undo_summary if undo else action.summary}",
            )
        except ActivityError as err:
            self.event(TimelineKind.ACTION, "remediation", f"{what} failed: {err.cause or err}")
            return None
        self.keep_result(result)
        return result

    async def _verify(self, action: RemediationAction, result: ActionResult) -> Verification:
        window = action.verify.window_seconds
        if result.dry_run:
            return self._verdict(
                action,
                VerificationStatus.SKIPPED,
                "dry-run changed nothing, so there is no effect to verify",
            )
        if action.verify.kind is VerifyKind.PROMQL and action.verify.promql:
            self.set_state(IncidentState.VERIFYING, f"{action.verify.promql} within {window} s")
            return await self._verify_promql(action, action.verify.promql)
        self.set_state(IncidentState.VERIFYING, f"all alerts resolved within {window} s")
        try:
            await workflow.wait_condition(
                lambda: (
                    self.resolved_by() is not None
                    or all(a.status is AlertStatus.RESOLVED for a in self.alerts())
                ),
                timeout=timedelta(seconds=window),
                timeout_summary="verification window",
            )
        except TimeoutError:
            firing = sorted(a.name for a in self.alerts() if a.status is AlertStatus.FIRING)
            return self._verdict(
                action,
                VerificationStatus.FAILED,
                f"still firing after {window} s: {', '.join(firing)}",
            )
        who = self.resolved_by()
        if who is not None and any(a.status is AlertStatus.FIRING for a in self.alerts()):
            return self._verdict(action, VerificationStatus.SKIPPED, f"resolved by {who} first")
        return self._verdict(
            action,
            VerificationStatus.PASSED,
            f"all {len(self.alerts())} alerts resolved within {window} s",
        )

    async def _verify_promql(self, action: RemediationAction, promql: str) -> Verification:
        window = action.verify.window_seconds
        deadline = workflow.now() + timedelta(seconds=window)
        detail = "not evaluated"
        while True:
            try:
                probe = await workflow.execute_activity_method(
                    RemediationActivities.check_promql,
                    VerifyCheck(incident_id=self.incident_id, action_id=action.id, promql=promql),
                    task_queue=self.agent_queue,
                    start_to_close_timeout=policies.VERIFY_CHECK_TIMEOUT,
                    retry_policy=policies.VERIFY_CHECK_RETRY,
                    summary=f"verify: {promql}",
                )
                if probe.passed:
                    return self._verdict(action, VerificationStatus.PASSED, probe.detail)
                detail = probe.detail
            except ActivityError as err:
                detail = f"query failed: {err.cause or err}"
            left = (deadline - workflow.now()).total_seconds()
            if left <= 0:
                return self._verdict(
                    action, VerificationStatus.FAILED, f"not true within {window} s: {detail}"
                )
            await asyncio.sleep(min(self.poll_seconds, left))

    def _verdict(
        self, action: RemediationAction, status: VerificationStatus, detail: str
    ) -> Verification:
        return Verification(
            action_id=action.id, status=status, checked_at=workflow.now(), detail=detail
        )
