"""IncidentWorkflow: one incident from correlation to post-mortem, as a person sees it.

Deterministic orchestration only: agents run as activities on the agents' task queue, the
approved action on the remediation queue, and the workflow keeps every artifact they emit.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.execution import ExecutionActivities
    from activities.investigation import InvestigationActivities
    from activities.postmortem import PostmortemActivities
    from activities.remediation import RemediationActivities
    from incidentflow.models import (
        ActionResult,
        Alert,
        AlertStatus,
        Approval,
        Decision,
        DecisionRequest,
        DownstreamAlert,
        Duplicate,
        ExecuteInput,
        IncidentClosed,
        IncidentInput,
        IncidentRecord,
        IncidentState,
        IncidentUpdate,
        Investigation,
        InvestigationInput,
        PlanInput,
        PostMortem,
        PostmortemInput,
        RemediationPlan,
        TimelineEvent,
        TimelineKind,
        Verification,
        VerificationStatus,
    )
    from incidentflow.search import STATE_KEY
    from workflows import policies
    from workflows.names import INCIDENT_CLOSED_SIGNAL


@workflow.defn(name="IncidentWorkflow")
class IncidentWorkflow:
    """Investigate, plan, wait for a person, act, verify, draft the post-mortem."""

    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._inp = inp
        self._incident = inp.incident
        self._alerts: dict[str, Alert] = {a.fingerprint: a for a in inp.incident.alerts}
        self._services: list[str] = list(inp.incident.services)
        self._downstream: list[DownstreamAlert] = list(inp.incident.downstream)
        self._duplicates: list[Duplicate] = list(inp.incident.duplicates)
        self._state = IncidentState.OPEN
        self._waiting_for = "starting"
        self._investigation: Investigation | None = None
        self._plan: RemediationPlan | None = None
        self._approval: Approval | None = None
        self._results: list[ActionResult] = []
        self._verification: Verification | None = None
        self._postmortem: PostMortem | None = None
        self._timeline: list[TimelineEvent] = []

    # -- what people and the CLI read ------------------------------------------------------

    @workflow.query(name="record")
    def record(self) -> IncidentRecord:
        """Every artifact emitted so far, in order."""
        return IncidentRecord(
            incident=self._incident.model_copy(
                update={
                    "alerts": list(self._alerts.values()),
                    "services": self._services,
                    "downstream": self._downstream,
                    "duplicates": self._duplicates,
                }
            ),
            state=self._state,
            waiting_for=self._waiting_for,
            detections=self._inp.detections,
            investigation=self._investigation,
            plan=self._plan,
            approval=self._approval,
            results=self._results,
            verification=self._verification,
            postmortem=self._postmortem,
            timeline=self._timeline,
        )

    # -- a person's decision: updates (validated, refused before history) and signals ------

    @workflow.update(name="approve")
    def approve(self, req: DecisionRequest) -> Approval:
        """Approve the pending plan; the action then runs on the remediation queue."""
        return self._decide(Decision.APPROVED, req)

    @approve.validator
    def _validate_approve(self, req: DecisionRequest) -> None:
        self._check_decidable(Decision.APPROVED, req)

    @workflow.update(name="reject")
    def reject(self, req: DecisionRequest) -> Approval:
        """Reject the pending plan; nothing executes."""
        return self._decide(Decision.REJECTED, req)

    @reject.validator
    def _validate_reject(self, req: DecisionRequest) -> None:
        self._check_decidable(Decision.REJECTED, req)

    @workflow.signal(name="approve")
    def approve_signal(self, req: DecisionRequest) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.APPROVED, req)

    @workflow.signal(name="reject")
    def reject_signal(self, req: DecisionRequest) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.REJECTED, req)

    # -- machines: the stream joins later alerts to this incident --------------------------

    @workflow.signal(name="alerts_joined")
    def alerts_joined(self, update: IncidentUpdate) -> None:
        """Alerts correlation joined to this incident after it opened (firing or resolved)."""
        self._services += [s for s in update.services if s not in self._services]
        self._downstream += update.downstream
        self._duplicates += update.duplicates
        for dup in update.duplicates:
            self._event(TimelineKind.ALERT, "correlation", f"duplicate delivery: {dup.reason}")
        for alert in update.alerts:
            known = self._alerts.get(alert.fingerprint)
            self._alerts[alert.fingerprint] = alert
            if known is None:
                what = f"alert joined: {alert.name} on {alert.labels.get('service', '?')}"
            elif known.status != alert.status:
                what = f"alert {alert.status.value}: {alert.name}"
            else:
                continue
            self._event(TimelineKind.ALERT, "correlation", f"{what} ({'; '.join(update.reasons)})")

    # -- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentRecord:
        """Drive the incident to a terminal state and return its full record."""
        self._record_intake()
        investigation = await self._investigate()
        if investigation is None:
            return await self._park("investigation failed; see the activity failure")
        plan = await self._plan_remediation(investigation)
        if plan is None:
            return await self._park("remediation planning failed; see the activity failure")
        if plan.action is None:
            self._event(TimelineKind.PLAN, "remediation", f"no action proposed: {plan.rationale}")
            return await self._park("no catalog action fits; a person must decide")

        decision = await self._await_decision(plan)
        if decision.decision is not Decision.APPROVED:
            final = (
                IncidentState.EXPIRED
                if decision.decision is Decision.EXPIRED
                else IncidentState.REJECTED
            )
            return await self._finish(final)

        ok = await self._execute_and_verify(plan)
        return await self._finish(IncidentState.CLOSED if ok else IncidentState.NEEDS_ATTENTION)

    # -- stages ----------------------------------------------------------------------------

    def _record_intake(self) -> None:
        inc = self._incident
        for alert in sorted(inc.alerts, key=lambda a: (a.starts_at, a.fingerprint)):
            self._event(
                TimelineKind.ALERT,
                alert.source,
                f"{alert.status.value}: {alert.name} - {alert.summary}",
                at=alert.starts_at,
            )
        for det in self._inp.detections:
            verdict = "noise" if det.noise else det.severity.value
            self._event(
                TimelineKind.DETECTION,
                "detection",
                f"{det.alert.name}: service={det.service or '?'} {verdict}"
                + (" flapping" if det.flapping else ""),
            )
        self._event(
            TimelineKind.CORRELATION,
            "correlation",
            f"opened {inc.id}: {len(inc.alerts)} alert(s), origin "
            f"{inc.origin_service or 'unknown'}, {len(inc.downstream)} downstream, "
            f"{len(inc.duplicates)} duplicate(s)",
        )

    async def _investigate(self) -> Investigation | None:
        self._set_state(IncidentState.INVESTIGATING, "the investigation agent")
        try:
            result = await workflow.execute_activity_method(
                InvestigationActivities.investigate,
                InvestigationInput(incident=self._incident),
                task_queue=self._inp.agent_queue,
                start_to_close_timeout=policies.INVESTIGATION_TIMEOUT,
                heartbeat_timeout=policies.INVESTIGATION_HEARTBEAT,
                retry_policy=policies.AGENT_RETRY,
                summary=f"investigate {self._incident.origin_service or 'incident'}",
            )
        except ActivityError as err:
            self._event(TimelineKind.STATE, "investigation", f"failed: {err.cause or err}")
            return None
        self._investigation = result
        top = result.top
        self._event(
            TimelineKind.INVESTIGATION,
            "investigation",
            f"root cause: {top.cause} (confidence {top.confidence:.2f}, "
            f"evidence {', '.join(top.evidence_ids)})"
            if top
            else f"no root cause found: {result.summary}",
        )
        return result

    async def _plan_remediation(self, investigation: Investigation) -> RemediationPlan | None:
        self._set_state(IncidentState.PLANNING, "the remediation agent")
        try:
            plan = await workflow.execute_activity_method(
                RemediationActivities.plan_remediation,
                PlanInput(incident=self._incident, investigation=investigation),
                task_queue=self._inp.agent_queue,
                start_to_close_timeout=policies.PLANNING_TIMEOUT,
                retry_policy=policies.AGENT_RETRY,
                summary="plan a reversible action",
            )
        except ActivityError as err:
            self._event(TimelineKind.STATE, "remediation", f"failed: {err.cause or err}")
            return None
        self._plan = plan
        if plan.action is not None:
            self._event(
                TimelineKind.PLAN,
                "remediation",
                f"proposed {plan.action.summary} (risk {plan.action.risk.value}; "
                f"undo: {plan.action.undo_summary})",
            )
        return plan

    async def _await_decision(self, plan: RemediationPlan) -> Approval:
        window = self._inp.approval_timeout_seconds
        summary = plan.action.summary if plan.action else "the plan"
        self._set_state(
            IncidentState.AWAITING_APPROVAL,
            f"a person to approve or reject: {summary} (expires in {window // 60} min; "
            f"`incidentflow approve {self._incident.id} --by NAME`)",
        )
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._approval is not None,
                timeout=timedelta(seconds=window),
                timeout_summary="approval window",
            )
        if self._approval is not None:
            return self._approval
        # Silence is never consent: the window passing ends the plan, and nothing executes.
        expired = Approval(
            decision=Decision.EXPIRED,
            by="system",
            at=workflow.now(),
            reason=f"no decision within {window} s",
        )
        self._approval = expired
        self._event(TimelineKind.DECISION, "system", f"expired: no decision within {window} s")
        return expired

    async def _execute_and_verify(self, plan: RemediationPlan) -> bool:
        action = plan.action
        if action is None:
            return False
        self._set_state(IncidentState.EXECUTING, f"the remediation worker to run {action.id}")
        try:
            result = await workflow.execute_activity_method(
                ExecutionActivities.execute_action,
                ExecuteInput(action=action),
                task_queue=self._inp.remediation_queue,
                start_to_close_timeout=policies.EXECUTE_TIMEOUT,
                heartbeat_timeout=policies.EXECUTE_HEARTBEAT,
                retry_policy=policies.EXECUTE_RETRY,
                summary=f"execute: {action.summary}",
            )
        except ActivityError as err:
            self._event(TimelineKind.ACTION, "remediation", f"execution failed: {err.cause or err}")
            return False
        self._results.append(result)
        self._event(
            TimelineKind.ACTION,
            f"executor:{result.executor}",
            f"{'would run' if result.dry_run else 'ran'}: {'; '.join(result.would_run)}",
        )
        verification = await self._verify(action.id, action.verify.window_seconds, result)
        self._verification = verification
        self._event(TimelineKind.VERIFICATION, "system", verification.detail)
        if verification.status is not VerificationStatus.FAILED:
            return True
        return await self._undo(plan)

    async def _verify(self, action_id: str, window: int, result: ActionResult) -> Verification:
        if result.dry_run:
            return Verification(
                action_id=action_id,
                status=VerificationStatus.SKIPPED,
                checked_at=workflow.now(),
                detail="dry-run changed nothing, so there is no effect to verify",
            )
        self._set_state(IncidentState.VERIFYING, f"all alerts resolved within {window} s")
        try:
            await workflow.wait_condition(
                lambda: all(a.status is AlertStatus.RESOLVED for a in self._alerts.values()),
                timeout=timedelta(seconds=window),
                timeout_summary="verification window",
            )
        except TimeoutError:
            firing = sorted(a.name for a in self._alerts.values() if a.status is AlertStatus.FIRING)
            return Verification(
                action_id=action_id,
                status=VerificationStatus.FAILED,
                checked_at=workflow.now(),
                detail=f"still firing after {window} s: {', '.join(firing)}",
            )
        return Verification(
            action_id=action_id,
            status=VerificationStatus.PASSED,
            checked_at=workflow.now(),
            detail=f"all {len(self._alerts)} alerts resolved within {window} s",
        )

    async def _undo(self, plan: RemediationPlan) -> bool:
        action = plan.action
        if action is None:
            return False
        self._set_state(IncidentState.UNDOING, f"the remediation worker to undo {action.id}")
        try:
            result = await workflow.execute_activity_method(
                ExecutionActivities.execute_action,
                ExecuteInput(action=action, undo=True),
                task_queue=self._inp.remediation_queue,
                start_to_close_timeout=policies.EXECUTE_TIMEOUT,
                heartbeat_timeout=policies.EXECUTE_HEARTBEAT,
                retry_policy=policies.EXECUTE_RETRY,
                summary=f"undo: {action.undo_summary}",
            )
        except ActivityError as err:
            self._event(TimelineKind.ACTION, "remediation", f"undo failed: {err.cause or err}")
            return False
        self._results.append(result)
        self._event(
            TimelineKind.ACTION, f"executor:{result.executor}", f"undid: {action.undo_summary}"
        )
        # Verification failed, so the incident is not over: it parks for a person, never loops.
        return False

    async def _finish(self, final: IncidentState) -> IncidentRecord:
        self._set_state(IncidentState.DRAFTING_POSTMORTEM, "the post-mortem agent")
        try:
            self._postmortem = await workflow.execute_activity_method(
                PostmortemActivities.draft_postmortem,
                PostmortemInput(record=self.record()),
                task_queue=self._inp.agent_queue,
                start_to_close_timeout=policies.POSTMORTEM_TIMEOUT,
                retry_policy=policies.AGENT_RETRY,
                summary="draft the post-mortem",
            )
            self._event(TimelineKind.POSTMORTEM, "postmortem", "draft written")
        except ActivityError as err:
            self._event(TimelineKind.POSTMORTEM, "postmortem", f"draft failed: {err.cause or err}")
        waiting = "a person to take over" if final is IncidentState.NEEDS_ATTENTION else "nothing"
        self._set_state(final, waiting)
        await self._tell_stream()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.record()

    async def _park(self, why: str) -> IncidentRecord:
        self._event(TimelineKind.STATE, "system", f"needs attention: {why}")
        return await self._finish(IncidentState.NEEDS_ATTENTION)

    async def _tell_stream(self) -> None:
        stream = workflow.get_external_workflow_handle(self._inp.stream_workflow_id)
        try:
            await stream.signal(
                INCIDENT_CLOSED_SIGNAL, IncidentClosed(incident_id=self._incident.id)
            )
        except Exception as err:
            workflow.logger.warning("could not tell stream %s: %s", stream.id, err)

    # -- helpers ---------------------------------------------------------------------------

    def _check_decidable(self, decision: Decision, req: DecisionRequest) -> None:
        if self._approval is not None:
            prev = self._approval
            raise ValueError(
                f"{self._incident.id} was already {prev.decision.value} by {prev.by} "
                f"at {prev.at:%Y-%m-%d %H:%M:%S} UTC"
            )
        if self._state is not IncidentState.AWAITING_APPROVAL:
            raise ValueError(
                f"{self._incident.id} has no pending decision (state: {self._state.value}); "
                f"it waits for {self._waiting_for}"
            )
        if decision is Decision.REJECTED and not req.reason.strip():
            raise ValueError("a rejection needs a reason (--reason TEXT)")

    def _decide(self, decision: Decision, req: DecisionRequest) -> Approval:
        self._approval = Approval(
            decision=decision, by=req.by, at=workflow.now(), reason=req.reason
        )
        why = f": {req.reason}" if req.reason else ""
        self._event(TimelineKind.DECISION, req.by, f"{decision.value}{why}")
        return self._approval

    def _decide_by_signal(self, decision: Decision, req: DecisionRequest) -> None:
        try:
            self._check_decidable(decision, req)
        except ValueError as err:
            # A signal cannot be refused; record who tried so the history tells the truth.
            self._event(TimelineKind.DECISION, req.by, f"refused {decision.value} signal: {err}")
            return
        self._decide(decision, req)

    def _set_state(self, state: IncidentState, waiting_for: str) -> None:
        if state is not self._state:
            self._event(TimelineKind.STATE, "system", f"{self._state.value} -> {state.value}")
        self._state = state
        self._waiting_for = waiting_for
        workflow.upsert_search_attributes([STATE_KEY.value_set(state.value)])
        inc = self._incident
        workflow.set_current_details(
            f"**{state.value}**: waiting for {waiting_for}\n\n"
            f"{inc.severity.value} · {inc.origin_service or 'unknown service'} · {inc.title}"
        )

    def _event(
        self,
        kind: TimelineKind,
        actor: str,
        summary: str,
        *,
        at: datetime | None = None,
    ) -> None:
        self._timeline.append(
            TimelineEvent(at=at or workflow.now(), kind=kind, actor=actor, summary=summary)
        )
