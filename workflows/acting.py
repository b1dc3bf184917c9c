"""The incident workflow's decision and action steps: approval policy, execute, verify, undo.

Approvals follow the approval policy (who may approve which risk; high risk needs two different
people, compared as canonical identities); only signed decisions count unless configuration
allows local unsigned ones (incidentflow/identity/admission.py), and every attempt, refused
ones included, is recorded with who (as authenticated), its path and the plan digest. An
approved action runs on the remediation task queue, is verified in its window, and is undone
automatically when verification fails; the incident then parks for a person and never loops.

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.remediation import RemediationActivities
    from incidentflow.identity.admission import Admission
    from incidentflow.models import (
        ActionResult,
        Alert,
        Approval,
        ConfigRequest,
        Decision,
        DecisionRequest,
        Engine,
        IncidentInput,
        IncidentState,
        Investigation,
        NotificationKind,
        RemediationAction,
        RemediationPlan,
        Stage,
        TakeoverRequest,
        TimelineEvent,
        TimelineKind,
        Verification,
    )
    from workflows import living, policies
    from workflows.execution import ActionRunner
    from workflows.signal_input import decode
    from workflows.takeover import TakeoverHandlers


class ActingSteps(TakeoverHandlers):
    """approve / reject, then execute, verify and undo one approved action."""

    _inp: IncidentInput
    _alerts: dict[str, Alert]
    _results: list[ActionResult]
    _verification: Verification | None
    _closing: bool
    _config_loading: asyncio.Task[None] | None
    _withdrawn: str | None
    _merged_into: str | None
    _changes: list[str]
    _asked: bool
    _plans: list[RemediationPlan]
    _investigation: Investigation | None
    _replan_reason: str

    def _init_acting(self) -> None:
        self._decisions: list[Approval] = []
        self._approvers: list[str] = []
        self._verifications: list[Verification] = []

    # -- a person's decision: updates (validated) and signals ------------------------------
    # Every attempt passes incidentflow/identity/admission.py: only a decision the API signed
    # (or, where configured, a local unsigned one) counts; each attempt is recorded with who
    # (as authenticated), its path, the plan digest and the outcome.

    @workflow.update(name="approve")
    def approve(self, req: DecisionRequest) -> Approval:
        """Approve the pending plan; the action runs once the policy's approvers agree."""
        admission = self._admit_decision(Decision.APPROVED, req, signal=False)
        refusal = admission.refusal or self._policy_refusal(admission)
        if refusal is not None:
            # Accepted into history so who tried is on record, then failed for the caller.
            self._refuse(Decision.APPROVED, admission, refusal)
            raise ApplicationError(refusal, type="ApprovalRefused", non_retryable=True)
        return self._decide(Decision.APPROVED, req, admission)

    @approve.validator
    def _validate_approve(self, req: DecisionRequest) -> None:
        self._check_decidable(Decision.APPROVED, req)

    @workflow.update(name="reject")
    def reject(self, req: DecisionRequest) -> Approval:
        """Reject the pending plan; nothing executes."""
        admission = self._admit_decision(Decision.REJECTED, req, signal=False)
        if admission.refusal is not None:
            self._refuse(Decision.REJECTED, admission, admission.refusal)
            raise ApplicationError(admission.refusal, type="RejectRefused", non_retryable=True)
        return self._decide(Decision.REJECTED, req, admission)

    @reject.validator
    def _validate_reject(self, req: DecisionRequest) -> None:
        self._check_decidable(Decision.REJECTED, req)

    @workflow.signal(name="approve")
    def approve_signal(self, raw: RawValue) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.APPROVED, decode(raw, DecisionRequest))

    @workflow.signal(name="reject")
    def reject_signal(self, raw: RawValue) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.REJECTED, decode(raw, DecisionRequest))

    def _check_decidable(self, decision: Decision, req: DecisionRequest) -> None:
        if self._merged_into is not None:
            raise ValueError(
                f"{self._incident.id} was merged into {self._merged_into}; its plan was "
                "cancelled: decide on that incident"
            )
        if self._withdrawn is not None:
            raise ValueError(f"{self._incident.id}'s plan was withdrawn: {self._withdrawn}")
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

    def _admit_decision(
        self, decision: Decision, req: DecisionRequest, *, signal: bool
    ) -> Admission:
        verb = "approve" if decision is Decision.APPROVED else "reject"
        return self._admit(verb, req, signal=signal)

    def _policy_refusal(self, admission: Admission) -> str | None:
        action = self._plan.action if self._plan else None
        if action is None:
            return None
        return self._config.policy.refusal(admission.by, action.risk, self._approvers)

    def _audited(
        self, decision: Decision, admission: Admission, reason: str, approvers: list[str]
    ) -> Approval:
        return Approval(
            decision=decision,
            by=admission.by,
            at=workflow.now(),
            reason=reason,
            approvers=approvers,
            identity=admission.identity,
            authenticated=admission.authenticated,
            path=admission.path,
            plan_id=admission.plan_id,
            plan_digest=admission.plan_digest,
        )

    def _refuse(self, decision: Decision, admission: Admission, why: str) -> None:
        verb = "approval" if decision is Decision.APPROVED else "rejection"
        self._decisions.append(
            self._audited(Decision.REFUSED, admission, f"{verb} refused: {why}", [])
        )
        self._event(TimelineKind.DECISION, admission.by, f"{verb} refused: {why}")

    def _decide(self, decision: Decision, req: DecisionRequest, admission: Admission) -> Approval:
        why = f": {req.reason}" if req.reason else ""
        by = admission.by
        if decision is Decision.APPROVED:
            self._approvers.append(by)
            action = self._plan.action if self._plan else None
            needed = self._config.policy.required(action.risk) if action else 1
            if len(self._approvers) < needed:
                partial = self._audited(decision, admission, req.reason, list(self._approvers))
                self._decisions.append(partial)
                self._event(
                    TimelineKind.DECISION,
                    by,
                    f"approval {len(self._approvers)} of {needed}{why}; waiting for "
                    f"{needed - len(self._approvers)} more different approver(s)",
                )
                self._set_state(IncidentState.AWAITING_APPROVAL, self._decision_waiting())
                return partial
        final = self._audited(decision, admission, req.reason, list(self._approvers))
        self._approval = final
        self._decisions.append(final)
        self._event(TimelineKind.DECISION, by, f"{decision.value}{why}")
        return final

    def _decide_by_signal(self, decision: Decision, req: DecisionRequest | str) -> None:
        if isinstance(req, str):
            verb = "approve" if decision is Decision.APPROVED else "reject"
            self._event(TimelineKind.DECISION, "unknown", f"malformed {verb} signal: {req}")
            return
        # A signal cannot be refused; every attempt is recorded so the history tells the truth.
        admission = self._admit_decision(decision, req, signal=True)
        try:
            self._check_decidable(decision, req)
        except ValueError as err:
            self._refuse(decision, admission, str(err))
            return
        refusal = admission.refusal
        if refusal is None and decision is Decision.APPROVED:
            refusal = self._policy_refusal(admission)
        if refusal is not None:
            self._refuse(decision, admission, refusal)
            return
        self._decide(decision, req, admission)

    def _decision_waiting(self) -> str:
        action = self._plan.action if self._plan else None
        summary = action.summary if action else "the plan"
        needed = self._config.policy.required(action.risk) if action else 1
        have = f" ({len(self._approvers)} of {needed} approvals)" if needed > 1 else ""
        window = self._config.approval_timeout_seconds
        return (
            f"a person to approve or reject: {summary}{have} (expires in {window // 60} min; "
            f"`incidentflow approve {self._incident.id}`)"
        )

    def _wake(self) -> bool:
        """A person asked the run loop to leave the step it waits in."""
        return (
            self._resolved_by is not None
            or self._withdrawn is not None
            or self._merged_into is not None
            or Stage.INVESTIGATION in self._overrides
            or Stage.PLANNING in self._overrides
            or Stage.PLANNING in self._skips
            or Stage.EXECUTION in self._skips
        )

    async def _load_config(self) -> None:
        self._config = await workflow.execute_activity_method(
            RemediationActivities.incident_config,
            ConfigRequest(incident_id=self._incident.id),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.CONFIG_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary="read the approval policy",
        )

    @workflow.update(name="refresh")
    async def refresh(self, req: TakeoverRequest) -> TimelineEvent:
        """Read the incident's configuration again (approval policy and window, notifiers,
        settle and debounce windows): a changed setting on the workers applies from now on."""
        await self._config_ready()
        await self._load_config()
        c = self._config
        return self._event(
            TimelineKind.TAKEOVER,
            req.by,
            f"configuration read again: approval window {c.approval_timeout_seconds} s, "
            f"settle {c.resolved_settle_seconds} s, re-plan debounce "
            f"{c.reinvestigate_debounce_seconds} s, notifier {'on' if c.notify else 'off'}",
        )

    @refresh.validator
    def _validate_refresh(self, req: TakeoverRequest) -> None:
        self._check_not_ended()

    async def _config_ready(self) -> None:
        """Wait for the incident's configuration (policy, notifiers) if it is still loading."""
        if self._config_loading is not None:
            await self._config_loading
            self._config_loading = None

    async def _await_decision(self) -> Approval | None:
        """The decision, or None when a person overrode, skipped or resolved instead."""
        await self._config_ready()
        self._approval = None
        self._approvers = []
        window = self._config.approval_timeout_seconds
        self._set_state(IncidentState.AWAITING_APPROVAL, self._decision_waiting())
        self._notify(NotificationKind.DECISION_NEEDED, f"approval window: {window // 60} min")
        self._asked = True
        deadline = workflow.now() + timedelta(seconds=window)
        while True:
            left = (deadline - workflow.now()).total_seconds()
            if left > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._approval is not None or self._wake() or bool(self._changes),
                        timeout=timedelta(seconds=left),
                        timeout_summary="approval window",
                    )
            if self._approval is not None:
                return self._approval
            if self._wake():
                return None
            if not self._changes or workflow.now() >= deadline:
                break
            # A material change: the plan stands (and can still be decided) until the
            # changes have been quiet for the debounce window; then it is replaced.
            if await self._settle_changes(until=deadline):
                return None
        # Silence is never consent: the window passing ends the plan, and nothing executes.
        expired = Approval(
            decision=Decision.EXPIRED,
            by="system",
            at=workflow.now(),
            reason=f"no decision within {window} s",
            approvers=list(self._approvers),
        )
        self._approval = expired
        self._decisions.append(expired)
        self._event(TimelineKind.DECISION, "system", f"expired: no decision within {window} s")
        # Escalate once: one expiry message, never a reminder loop.
        self._escalated = True
        self._notify(NotificationKind.EXPIRED, f"no decision within {window} s; escalating")
        return expired

    # -- a living investigation (workflows/living.py) ---------------------------------------

    # -- a living investigation (workflows/living.py) ---------------------------------------

    def _may_reinvestigate(self) -> bool:
        """Changes re-plan only before a decision, for agents' work, within the cap."""
        before = self._state in living.BEFORE_DECISION and self._approval is None
        # A person's investigation or plan is never replaced by an agent's.
        engines = [p.engine for p in self._plans[-1:]]
        engines += [self._investigation.engine] if self._investigation else []
        agents = Engine.PERSON not in engines
        return (
            before
            and agents
            and self._merged_into is None
            and len(self._plans) <= living.MAX_REPLANS
        )

    def _changed_since(self, seen: int) -> bool:
        return len(self._changes) != seen or self._wake() or self._approval is not None

    async def _settle_changes(self, *, until: datetime | None = None) -> bool:
        """Debounce material changes; True when they call for a new investigation.

        False when they do not (a decision arrived first, a person stepped in, `until`
        passed, or re-planning is not allowed: workflows/living.py says when).
        """
        if not self._changes or not self._may_reinvestigate():
            self._changes.clear()
            return False
        if until is None:
            self._set_state(IncidentState.PLANNING, "the incident to stop changing, to re-plan")
        quiet = float(self._config.reinvestigate_debounce_seconds)
        while True:
            seen = len(self._changes)
            wait = quiet if until is None else min(quiet, (until - workflow.now()).total_seconds())
            if until is not None and wait <= 0:
                return False
            if wait <= 0:
                break
            try:
                await workflow.wait_condition(
                    functools.partial(self._changed_since, seen),
                    timeout=timedelta(seconds=wait),
                    timeout_summary="re-investigation debounce",
                )
            except TimeoutError:
                if until is not None and workflow.now() >= until:
                    return False
                break
            if self._approval is not None or self._wake():
                return False
        why = living.summary(self._changes)
        self._changes.clear()
        self._replan_reason = why
        self._event(TimelineKind.INVESTIGATION, "system", f"investigating again: {why}")
        return True

    # -- acting: workflows/execution.py runs execute -> verify -> undo ---------------------

    async def _act(self, action: RemediationAction) -> bool | None:
        """Execute, verify, undo on failure: True verified, False undone, None did not run."""
        runner = ActionRunner(
            incident_id=self._incident.id,
            agent_queue=self._inp.agent_queue,
            remediation_queue=self._inp.remediation_queue,
            poll_seconds=self._config.verify_poll_seconds,
            alerts=lambda: list(self._alerts.values()),
            resolved_by=lambda: self._resolved_by,
            event=self._event,
            set_state=self._set_state,
            keep_result=self._results.append,
            keep_verification=self._keep_verification,
        )
        self._execution_failed = False
        outcome = await runner.run(action)
        self._execution_failed = outcome.verified is None
        return outcome.verified

    def _keep_verification(self, verification: Verification) -> None:
        self._verification = verification
        self._verifications.append(verification)

    async def _deliver_notifications(self) -> None:
        """Send queued notifications in order, until the incident has finished."""
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox) or self._closing)
            if not self._outbox:
                return
            note = self._outbox.pop(0)
            try:
                result = await workflow.execute_activity_method(
                    NotifyActivities.notify,
                    note,
                    task_queue=self._inp.agent_queue,
                    start_to_close_timeout=policies.NOTIFY_TIMEOUT,
                    retry_policy=policies.NOTIFY_RETRY,
                    summary=f"notify: {note.kind.value}",
                )
            except ActivityError as err:
                self._event(
                    TimelineKind.NOTIFICATION,
                    "system",
                    f"{note.kind.value} not sent: {err.cause or err}",
                )
                continue
            self._event(
                TimelineKind.NOTIFICATION,
                "system",
                f"{note.kind.value} sent to {', '.join(result.delivered) or 'nobody'}",
            )
