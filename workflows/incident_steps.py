"""The steps of an incident's life that run activities or wait: what IncidentWorkflow.run calls.

Each step reads and changes the one state object (workflows/incident_state.py) through its
pure methods, runs an agent as an activity on the agents' task queue, or waits for a person,
a window or the alerts. `publish` shows the state in the Temporal UI before every wait, so what
a person sees is never behind what the workflow holds. Execute -> verify -> undo is the plain
helper in workflows/execution.py.

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.investigation import InvestigationActivities
    from activities.notify import NotifyActivities
    from activities.postmortem import PostmortemActivities
    from activities.remediation import RemediationActivities
    from incidentflow.models import (
        Approval,
        ConfigRequest,
        IncidentClosed,
        IncidentConfig,
        IncidentState,
        Investigation,
        InvestigationInput,
        OverrideRequest,
        PlanInput,
        PostMortem,
        PostmortemInput,
        RemediationAction,
        RemediationPlan,
        Stage,
        TimelineKind,
    )
    from workflows import policies
    from workflows.execution import ActionRunner
    from workflows.incident_state import LiveIncident
    from workflows.names import INCIDENT_CLOSED_SIGNAL

T = TypeVar("T")


@dataclass
class IncidentSteps:
    """The incident's waits and activities over its state `s`."""

    s: LiveIncident
    publish: Callable[[], None]

    # -- waiting ----------------------------------------------------------------------------

    async def until(self, ready: Callable[[], bool]) -> None:
        """Show the state, then wait until `ready`."""
        self.publish()
        await workflow.wait_condition(ready)

    async def until_or_timeout(
        self, ready: Callable[[], bool], seconds: float, summary: str
    ) -> bool:
        """Show the state, then wait until `ready` (True) or `seconds` pass (False)."""
        self.publish()
        try:
            await workflow.wait_condition(
                ready, timeout=timedelta(seconds=seconds), timeout_summary=summary
            )
        except TimeoutError:
            return False
        return True

    async def configured(self) -> None:
        """Wait for the incident's configuration (policy, trust, notifiers) if still loading."""
        if not self.s.config_ready:
            await self.until(lambda: self.s.config_ready)

    async def read_config(self) -> IncidentConfig:
        self.publish()
        return await workflow.execute_activity_method(
            RemediationActivities.incident_config,
            ConfigRequest(incident_id=self.s.incident.id),
            task_queue=self.s.inp.agent_queue,
            start_to_close_timeout=policies.CONFIG_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary="read the approval policy",
        )

    # -- a gate before every agent step: pause, override, skip, retry, resolve --------------

    async def gate(self, stage: Stage) -> None:
        """Hold while paused; a resolve also lets the loop go on (to close)."""
        s = self.s
        if s.paused_by is None:
            return
        s.waiting_for = (
            f"paused by {s.paused_by} before {stage.value}: `incidentflow resume {s.incident.id}`"
        )
        await self.until(lambda: s.paused_by is None or s.ended())

    async def park(self, stage: Stage, why: str) -> None:
        """needs_attention until a person retries, skips, overrides or resolves."""
        await self.configured()
        self.s.park(stage, why)
        await self.until(functools.partial(self.s.unparked, stage))
        self.s.leave_park(stage)

    async def stage(
        self,
        stage: Stage,
        agent: Callable[[], Awaitable[T]],
        person: Callable[[OverrideRequest], T | None],
    ) -> T | None:
        """Gate, then a person's artifact or the agent's; None when skipped or resolved."""
        while True:
            await self.gate(stage)
            if self.s.ended() and stage is not Stage.POSTMORTEM:
                return None
            override = self.s.take_override(stage)
            if override is not None:
                return person(override)
            if self.s.take_skip(stage):
                return None
            try:
                return await agent()
            except ActivityError as err:
                if workflow.cancellation_reason() is not None:
                    raise  # the workflow was cancelled (the UI's button): it ends cancelled
                self.s.event(TimelineKind.STATE, stage.value, f"failed: {err.cause or err}")
                await self.park(stage, f"{stage.value} failed: {err.cause or err}")

    # -- the agents ---------------------------------------------------------------------------

    async def investigate(self) -> Investigation:
        s = self.s
        s.set_state(IncidentState.INVESTIGATING, "the investigation agent")
        self.publish()
        result = await workflow.execute_activity_method(
            InvestigationActivities.investigate,
            InvestigationInput(incident=s.current_incident()),
            task_queue=s.inp.agent_queue,
            start_to_close_timeout=policies.INVESTIGATION_TIMEOUT,
            heartbeat_timeout=policies.INVESTIGATION_HEARTBEAT,
            retry_policy=policies.AGENT_RETRY,
            summary=f"investigate {s.incident.origin_service or 'incident'}",
        )
        return s.investigated(result)

    async def plan_remediation(self) -> RemediationPlan:
        s = self.s
        investigation = s.investigation or s.skipped_investigation()
        s.set_state(IncidentState.PLANNING, "the remediation agent")
        self.publish()
        return await workflow.execute_activity_method(
            RemediationActivities.plan_remediation,
            PlanInput(incident=s.current_incident(), investigation=investigation),
            task_queue=s.inp.agent_queue,
            start_to_close_timeout=policies.PLANNING_TIMEOUT,
            retry_policy=policies.AGENT_RETRY,
            summary="plan a reversible action",
        )

    async def draft(self) -> PostMortem:
        self.s.set_state(IncidentState.DRAFTING_POSTMORTEM, "the post-mortem agent")
        self.publish()
        return await workflow.execute_activity_method(
            PostmortemActivities.draft_postmortem,
            PostmortemInput(record=self.s.record(), write=True),
            task_queue=self.s.inp.agent_queue,
            start_to_close_timeout=policies.POSTMORTEM_TIMEOUT,
            retry_policy=policies.AGENT_RETRY,
            summary="draft the post-mortem",
        )

    # -- a person's decision, while the incident may still change ----------------------------

    async def await_decision(self) -> Approval | None:
        """The decision, or None when a person overrode, skipped or resolved instead."""
        s = self.s
        await self.configured()
        s.ask()
        deadline = workflow.now() + timedelta(seconds=s.config.approval_timeout_seconds)
        while True:
            left = (deadline - workflow.now()).total_seconds()
            if left > 0:
                await self.until_or_timeout(
                    lambda: s.approval is not None or s.wake() or bool(s.changes),
                    left,
                    "approval window",
                )
            if s.approval is not None:
                return s.approval
            if s.wake():
                return None
            if not s.changes or workflow.now() >= deadline:
                break
            # A material change: the plan stands (and can still be decided) until the
            # changes have been quiet for the debounce window; then it is replaced.
            if await self.settle_changes(until=deadline):
                return None
        return s.expire()

    async def settle_changes(self, *, until: datetime | None = None) -> bool:
        """Debounce material changes; True when they call for a new investigation.

        False when they do not (a decision arrived first, a person stepped in, `until`
        passed, or re-planning is not allowed: workflows/living.py says when).
        """
        s = self.s
        if not s.changes or not s.may_reinvestigate():
            s.changes.clear()
            return False
        if until is None:
            s.set_state(IncidentState.PLANNING, "the incident to stop changing, to re-plan")
        quiet = float(s.config.reinvestigate_debounce_seconds)
        while True:
            seen = len(s.changes)
            wait = quiet if until is None else min(quiet, (until - workflow.now()).total_seconds())
            if until is not None and wait <= 0:
                return False
            if wait <= 0:
                break
            changed = await self.until_or_timeout(
                functools.partial(s.changed_since, seen), wait, "re-investigation debounce"
            )
            if not changed:
                if until is not None and workflow.now() >= until:
                    return False
                break
            if s.approval is not None or s.wake():
                return False
        s.replan()
        return True

    # -- acting: workflows/execution.py runs execute -> verify -> undo -----------------------

    async def act(self, action: RemediationAction) -> bool | None:
        """Execute, verify, undo on failure: True verified, False undone, None did not run."""
        s = self.s

        def set_state(state: IncidentState, waiting_for: str) -> None:
            s.set_state(state, waiting_for)
            self.publish()

        runner = ActionRunner(
            incident_id=s.incident.id,
            agent_queue=s.inp.agent_queue,
            remediation_queue=s.inp.remediation_queue,
            poll_seconds=s.config.verify_poll_seconds,
            alerts=lambda: list(s.alerts.values()),
            resolved_by=lambda: s.resolved_by,
            event=s.event,
            set_state=set_state,
            keep_result=s.results.append,
            keep_verification=s.keep_verification,
        )
        s.execution_failed = False
        outcome = await runner.run(action)
        s.execution_failed = outcome.verified is None
        return outcome.verified

    # -- beside the story: notifications, alerts resolving on their own, the stream ----------

    async def deliver_notifications(self) -> None:
        """Send queued notifications in order, until the incident has finished."""
        s = self.s
        while True:
            await self.until(lambda: bool(s.outbox) or s.closing)
            if not s.outbox:
                return
            note = s.outbox.pop(0)
            try:
                result = await workflow.execute_activity_method(
                    NotifyActivities.notify,
                    note,
                    task_queue=s.inp.agent_queue,
                    start_to_close_timeout=policies.NOTIFY_TIMEOUT,
                    retry_policy=policies.NOTIFY_RETRY,
                    summary=f"notify: {note.kind.value}",
                )
            except ActivityError as err:
                s.event(
                    TimelineKind.NOTIFICATION,
                    "system",
                    f"{note.kind.value} not sent: {err.cause or err}",
                )
                continue
            s.event(
                TimelineKind.NOTIFICATION,
                "system",
                f"{note.kind.value} sent to {', '.join(result.delivered) or 'nobody'}",
            )

    async def watch_resolution(self) -> None:
        """Withdraw the plan once every alert has stayed resolved for the settle time.

        A re-fire within it (the stream joins the firing alert back here) keeps the incident
        going; after the incident ended, a re-fire opens a new one.
        """
        s = self.s
        while True:
            await self.until(lambda: s.closing or (s.alerts_clear() and s.may_withdraw()))
            if s.closing:
                return
            settle = s.config.resolved_settle_seconds
            interrupted = await self.until_or_timeout(
                lambda: s.closing or not s.alerts_clear() or not s.may_withdraw(),
                settle,
                "alerts resolved: settle window",
            )
            if not interrupted:
                s.withdraw(settle)
                return

    async def tell_stream(self) -> None:
        self.publish()
        stream = workflow.get_external_workflow_handle(self.s.inp.stream_workflow_id)
        try:
            await stream.signal(
                INCIDENT_CLOSED_SIGNAL, IncidentClosed(incident_id=self.s.incident.id)
            )
        except Exception as err:
            workflow.logger.warning("could not tell stream %s: %s", stream.id, err)

    async def end(self, final: IncidentState) -> None:
        """Draft the post-mortem (a merged-away incident has none), settle, tell the stream."""
        if final is IncidentState.MERGED:
            self.s.end_merged()
        else:
            pm = await self.stage(Stage.POSTMORTEM, self.draft, lambda o: o.postmortem)
            self.s.finished(final, pm)
        await self.tell_stream()
