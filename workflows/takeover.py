"""A person takes the wheel: the incident workflow's takeover handlers and shared helpers.

Every action is an update (validated, refused before it reaches history) and a signal of the
same name (for `temporal workflow signal`; an invalid one is recorded with who tried). The verbs
that change what runs (pause, resume, override, retry, skip, resolve, assign) are believed only
when the decision API signed them, like approve and reject (or, where configuration allows,
as local unsigned ones); a refused attempt is recorded in the decisions audit with what it
claimed. The run loop in workflows/incident.py honours them at a gate before every agent step.

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from incidentflow.identity.admission import GUARDED_VERBS, Admission, Claimed, Pending, admit
    from incidentflow.models import (
        Alert,
        AlertDigest,
        Approval,
        Decision,
        Engine,
        Incident,
        IncidentConfig,
        IncidentState,
        Investigation,
        Notification,
        NotificationKind,
        OverrideRequest,
        PostMortem,
        RemediationPlan,
        Stage,
        StageRequest,
        TakeoverRequest,
        TimelineEvent,
        TimelineKind,
    )
    from incidentflow.search import OWNER_KEY, STATE_KEY
    from workflows.overrides import (
        investigation_problem,
        plan_problem,
        postmortem_problem,
        regenerated,
    )
    from workflows.signal_input import decode

R = TypeVar("R", TakeoverRequest, StageRequest, OverrideRequest)
# States in which the action has started: earlier stages can no longer be overridden.
ACTING = (IncidentState.EXECUTING, IncidentState.VERIFYING, IncidentState.UNDOING)
# State changes people hear about (agent-internal steps are left out to keep channels quiet).
NOTIFY_STATES = frozenset(
    {
        IncidentState.NEEDS_ATTENTION,
        IncidentState.EXECUTING,
        IncidentState.UNDOING,
        IncidentState.CLOSED,
        IncidentState.REJECTED,
        IncidentState.RESOLVED,
    }
)


class TakeoverHandlers:
    """State people can change, their handlers, and the record helpers the run loop uses."""

    _incident: Incident
    _state: IncidentState
    _waiting_for: str
    _timeline: list[TimelineEvent]
    _config: IncidentConfig
    _investigation: Investigation | None
    _plan: RemediationPlan | None
    _postmortem: PostMortem | None
    _approval: Approval | None
    _alerts: dict[str, Alert]
    _digest: AlertDigest | None
    _services: list[str]

    _decisions: list[Approval]
    _merged_into: str | None

    def _init_takeover(self) -> None:
        self._nonces: set[str] = set()
        self._paused_by: str | None = None
        self._resolved_by: str | None = None
        self._overrides: dict[Stage, OverrideRequest] = {}
        self._skips: set[Stage] = set()
        self._retries: set[Stage] = set()
        self._parked: Stage | None = None
        self._owner: str | None = None
        self._escalated = False
        self._execution_failed = False
        self._outbox: list[Notification] = []

    # -- updates ---------------------------------------------------------------------------

    @workflow.update(name="pause")
    def pause(self, req: TakeoverRequest) -> TimelineEvent:
        """Hold the incident at the next gate until someone resumes it."""
        return self._guarded("pause", req, self._apply_pause)

    @pause.validator
    def _validate_pause(self, req: TakeoverRequest) -> None:
        self._check_pause(req)

    @workflow.update(name="resume")
    def resume(self, req: TakeoverRequest) -> TimelineEvent:
        """Let the agents go on from where the incident was paused."""
        return self._guarded("resume", req, self._apply_resume)

    @resume.validator
    def _validate_resume(self, req: TakeoverRequest) -> None:
        self._check_resume(req)

    @workflow.update(name="override")
    def override(self, req: OverrideRequest) -> TimelineEvent:
        """Replace a stage's artifact with a person's own; the pipeline continues from it."""
        return self._guarded("override", req, self._apply_override)

    @override.validator
    def _validate_override(self, req: OverrideRequest) -> None:
        self._check_override(req)

    @workflow.update(name="retry")
    def retry(self, req: StageRequest) -> TimelineEvent:
        """Run a failed stage again."""
        return self._guarded("retry", req, self._apply_retry)

    @retry.validator
    def _validate_retry(self, req: StageRequest) -> None:
        self._check_retry(req)

    @workflow.update(name="skip")
    def skip(self, req: StageRequest) -> TimelineEvent:
        """Go past a stage without its agent."""
        return self._guarded("skip", req, self._apply_skip)

    @skip.validator
    def _validate_skip(self, req: StageRequest) -> None:
        self._check_skip(req)

    @workflow.update(name="assign")
    def assign(self, req: TakeoverRequest) -> TimelineEvent:
        """Make `text` the owner of the incident."""
        return self._guarded("assign", req, self._apply_assign)

    @assign.validator
    def _validate_assign(self, req: TakeoverRequest) -> None:
        self._check_text(req, "an owner (--to NAME)")

    @workflow.update(name="note")
    def note(self, req: TakeoverRequest) -> TimelineEvent:
        """Add a note to the timeline (and so to the post-mortem)."""
        return self._apply_note(req)

    @note.validator
    def _validate_note(self, req: TakeoverRequest) -> None:
        self._check_text(req, "the note's text")

    @workflow.update(name="escalate")
    def escalate(self, req: TakeoverRequest) -> TimelineEvent:
        """Call for help: recorded and sent to every notifier."""
        return self._apply_escalate(req)

    @escalate.validator
    def _validate_escalate(self, req: TakeoverRequest) -> None:
        self._check_not_ended()

    @workflow.update(name="resolve")
    def resolve(self, req: TakeoverRequest) -> TimelineEvent:
        """The problem is fixed: stop remediating, draft the post-mortem, close."""
        return self._guarded("resolve", req, self._apply_resolve)

    @resolve.validator
    def _validate_resolve(self, req: TakeoverRequest) -> None:
        self._check_not_ended()
        if self._resolved_by is not None:
            raise ValueError(f"{self._incident.id} was already resolved by {self._resolved_by}")

    # -- the same, as signals ----------------------------------------------------------------

    @workflow.signal(name="pause")
    def pause_signal(self, raw: RawValue) -> None:
        req = self._decoded("pause", raw, TakeoverRequest)
        self._by_signal("pause", req, self._check_pause, self._apply_pause)

    @workflow.signal(name="resume")
    def resume_signal(self, raw: RawValue) -> None:
        req = self._decoded("resume", raw, TakeoverRequest)
        self._by_signal("resume", req, self._check_resume, self._apply_resume)

    @workflow.signal(name="override")
    def override_signal(self, raw: RawValue) -> None:
        req = self._decoded("override", raw, OverrideRequest)
        self._by_signal("override", req, self._check_override, self._apply_override)

    @workflow.signal(name="retry")
    def retry_signal(self, raw: RawValue) -> None:
        req = self._decoded("retry", raw, StageRequest)
        self._by_signal("retry", req, self._check_retry, self._apply_retry)

    @workflow.signal(name="skip")
    def skip_signal(self, raw: RawValue) -> None:
        req = self._decoded("skip", raw, StageRequest)
        self._by_signal("skip", req, self._check_skip, self._apply_skip)

    @workflow.signal(name="assign")
    def assign_signal(self, raw: RawValue) -> None:
        req = self._decoded("assign", raw, TakeoverRequest)
        self._by_signal(
            "assign", req, lambda r: self._check_text(r, "an owner"), self._apply_assign
        )

    @workflow.signal(name="note")
    def note_signal(self, raw: RawValue) -> None:
        req = self._decoded("note", raw, TakeoverRequest)
        self._by_signal("note", req, lambda r: self._check_text(r, "a text"), self._apply_note)

    @workflow.signal(name="escalate")
    def escalate_signal(self, raw: RawValue) -> None:
        req = self._decoded("escalate", raw, TakeoverRequest)
        self._by_signal("escalate", req, lambda r: self._check_not_ended(), self._apply_escalate)

    @workflow.signal(name="resolve")
    def resolve_signal(self, raw: RawValue) -> None:
        req = self._decoded("resolve", raw, TakeoverRequest)
        self._by_signal("resolve", req, self._validate_resolve, self._apply_resolve)

    def _decoded(self, name: str, raw: RawValue, model: type[R]) -> R | None:
        """The signal's input, or None after recording why it is malformed."""
        found = decode(raw, model)
        if isinstance(found, str):
            self._event(TimelineKind.TAKEOVER, "unknown", f"malformed {name} signal: {found}")
            return None
        return found

    def _by_signal(
        self,
        name: str,
        req: R | None,
        check: Callable[[R], None],
        apply: Callable[[R], TimelineEvent],
    ) -> None:
        if req is None:
            return
        try:
            check(req)
        except ValueError as err:
            # A signal cannot be refused; record who tried so the history tells the truth.
            self._event(TimelineKind.TAKEOVER, req.by, f"refused {name} signal: {err}")
            return
        if name not in GUARDED_VERBS:
            apply(req)
            return
        admission = self._admit(name, req, signal=True)
        if admission.refusal is not None:
            self._refuse_takeover(name, admission)
            return
        apply(req.model_copy(update={"by": admission.by}))

    # -- who may change what runs (issue 19): the decision API's signature ------------------

    def _pending(self) -> Pending:
        plan = self._plan
        return Pending(
            incident_id=self._incident.id,
            service=self._incident.origin_service,
            plan_id=plan.id or None if plan else None,
            plan_digest=plan.digest if plan else None,
            now=workflow.now(),
        )

    def _admit(self, verb: str, req: Claimed, *, signal: bool) -> Admission:
        """Judge one attempt (incidentflow/identity/admission.py); a used nonce is spent."""
        admission = admit(
            verb,
            req,
            signal=signal,
            pending=self._pending(),
            trust=self._config.trust,
            seen_nonces=self._nonces,
        )
        if admission.nonce is not None:
            self._nonces.add(admission.nonce)
        return admission

    def _guarded(self, verb: str, req: R, apply: Callable[[R], TimelineEvent]) -> TimelineEvent:
        """Apply a takeover update that changes what runs, once its signature is believed."""
        admission = self._admit(verb, req, signal=False)
        if admission.refusal is not None:
            # Accepted into history so who tried is on record, then failed for the caller.
            self._refuse_takeover(verb, admission)
            raise ApplicationError(admission.refusal, type="TakeoverRefused", non_retryable=True)
        return apply(req.model_copy(update={"by": admission.by}))

    def _refuse_takeover(self, verb: str, admission: Admission) -> None:
        why = f"{verb} refused: {admission.refusal}"
        self._decisions.append(
            Approval(
                decision=Decision.REFUSED,
                by=admission.by,
                at=workflow.now(),
                reason=why,
                identity=admission.identity,
                authenticated=admission.authenticated,
                path=admission.path,
            )
        )
        self._event(TimelineKind.TAKEOVER, admission.by, why)

    # -- checks (raise ValueError: the update is refused) ----------------------------------

    def _check_not_ended(self) -> None:
        if self._merged_into is not None:
            raise ValueError(
                f"{self._incident.id} was merged into {self._merged_into}; act on that one"
            )
        if self._state.terminal or self._state is IncidentState.DRAFTING_POSTMORTEM:
            raise ValueError(
                f"{self._incident.id} is {self._state.value}; there is nothing left to take over"
            )

    def _check_text(self, req: TakeoverRequest, what: str) -> None:
        self._check_not_ended()
        if not req.text.strip():
            raise ValueError(f"give {what}")

    def _check_pause(self, req: TakeoverRequest) -> None:
        self._check_not_ended()
        if self._paused_by is not None:
            raise ValueError(f"{self._incident.id} is already paused by {self._paused_by}")

    def _check_resume(self, req: TakeoverRequest) -> None:
        if self._paused_by is None:
            raise ValueError(f"{self._incident.id} is not paused")

    def _check_retry(self, req: StageRequest) -> None:
        self._check_not_ended()
        if self._parked is not req.stage:
            where = self._parked.value if self._parked else "no stage"
            raise ValueError(f"only a failed stage can be retried; {where} is waiting for one")
        if req.stage is Stage.EXECUTION and not self._execution_failed:
            raise ValueError(
                "the action already ran and was undone; override the plan or resolve instead"
            )

    def _check_skip(self, req: StageRequest) -> None:
        self._check_not_ended()
        if self._parked is req.stage:
            return
        done = {
            Stage.INVESTIGATION: self._investigation is not None,
            Stage.PLANNING: self._plan is not None,
            Stage.EXECUTION: self._state in ACTING or self._parked is not None,
            Stage.POSTMORTEM: self._postmortem is not None,
        }[req.stage]
        if done:
            raise ValueError(f"{req.stage.value} has already run; it can no longer be skipped")

    def _check_override(self, req: OverrideRequest) -> None:
        self._check_not_ended()
        inc = self._incident.id
        if req.stage is Stage.EXECUTION:
            raise ValueError("execution has no artifact to override: override the plan instead")
        if self._state in ACTING and req.stage is not Stage.POSTMORTEM:
            raise ValueError(f"{inc} is {self._state.value}; wait until the action is verified")
        if req.stage is Stage.INVESTIGATION:
            problem = investigation_problem(req.investigation, inc)
        elif req.stage is Stage.PLANNING:
            problem = plan_problem(regenerated(req.plan), inc, self._plan)
        else:
            problem = postmortem_problem(req.postmortem, inc, self._postmortem)
        if problem is not None:
            raise ValueError(problem)

    # -- effects ---------------------------------------------------------------------------

    def _apply_pause(self, req: TakeoverRequest) -> TimelineEvent:
        self._paused_by = req.by
        self._show_details()
        return self._event(TimelineKind.TAKEOVER, req.by, _with("paused", req.text))

    def _apply_resume(self, req: TakeoverRequest) -> TimelineEvent:
        self._paused_by = None
        self._show_details()
        return self._event(TimelineKind.TAKEOVER, req.by, _with("resumed", req.text))

    def _apply_override(self, req: OverrideRequest) -> TimelineEvent:
        # A person's artifact is marked as theirs, so the record never credits an agent.
        if req.investigation is not None:
            inv = req.investigation.model_copy(update={"engine": Engine.PERSON})
            req = req.model_copy(update={"investigation": inv})
        if (plan := regenerated(req.plan)) is not None:
            # The catalog's words for the person's params, whatever prose came with them.
            req = req.model_copy(update={"plan": plan.model_copy(update={"engine": Engine.PERSON})})
        if req.postmortem is not None:
            pm = req.postmortem.model_copy(update={"engine": Engine.PERSON})
            req = req.model_copy(update={"postmortem": pm})
        self._overrides[req.stage] = req
        return self._event(
            TimelineKind.TAKEOVER, req.by, _with(f"override of {req.stage.value}", req.reason)
        )

    def _apply_retry(self, req: StageRequest) -> TimelineEvent:
        self._retries.add(req.stage)
        return self._event(
            TimelineKind.TAKEOVER, req.by, _with(f"retry {req.stage.value}", req.reason)
        )

    def _apply_skip(self, req: StageRequest) -> TimelineEvent:
        self._skips.add(req.stage)
        return self._event(
            TimelineKind.TAKEOVER, req.by, _with(f"skip {req.stage.value}", req.reason)
        )

    def _apply_assign(self, req: TakeoverRequest) -> TimelineEvent:
        self._owner = req.text.strip()
        workflow.upsert_search_attributes([OWNER_KEY.value_set(self._owner)])
        self._show_details()
        return self._event(TimelineKind.TAKEOVER, req.by, f"assigned to {self._owner}")

    def _apply_note(self, req: TakeoverRequest) -> TimelineEvent:
        return self._event(TimelineKind.NOTE, req.by, req.text.strip())

    def _apply_escalate(self, req: TakeoverRequest) -> TimelineEvent:
        self._escalated = True
        self._show_details()
        event = self._event(TimelineKind.TAKEOVER, req.by, _with("escalated", req.text))
        self._notify(NotificationKind.ESCALATED, f"escalated by {req.by}: {req.text or '-'}")
        return event

    def _apply_resolve(self, req: TakeoverRequest) -> TimelineEvent:
        self._resolved_by = req.by
        return self._event(TimelineKind.TAKEOVER, req.by, _with("resolved", req.text))

    # -- record helpers --------------------------------------------------------------------

    def _set_state(self, state: IncidentState, waiting_for: str) -> None:
        changed = state is not self._state
        if changed:
            self._event(TimelineKind.STATE, "system", f"{self._state.value} -> {state.value}")
        self._state = state
        self._waiting_for = waiting_for
        workflow.upsert_search_attributes([STATE_KEY.value_set(state.value)])
        self._show_details()
        if changed and state in NOTIFY_STATES:
            self._notify(NotificationKind.STATE_CHANGED, f"now {state.value}: {waiting_for}")

    def _show_details(self) -> None:
        inc = self._incident
        paused = f" (paused by {self._paused_by})" if self._paused_by else ""
        owner = f" · owner {self._owner}" if self._owner else ""
        escalated = " · escalated" if self._escalated else ""
        # Kept current (issue 20): alerts and services as they are now, not as they opened.
        alerts = len(self._alerts) + (self._digest.alerts if self._digest else 0)
        workflow.set_current_details(
            f"**{self._state.value}**{paused}: waiting for {self._waiting_for}\n\n"
            f"{inc.severity.value} · {inc.origin_service or 'unknown service'} · {inc.title}"
            f"{owner}{escalated}\n\n{alerts} alert(s) · services {', '.join(self._services)}"
        )

    def _notify(self, kind: NotificationKind, detail: str) -> None:
        """Queue a message for the notifier loop (only when a notifier is configured)."""
        if not self._config.notify:
            return
        inc = self._incident
        action = self._plan.action if self._plan else None
        pending = self._state is IncidentState.AWAITING_APPROVAL
        self._outbox.append(
            Notification(
                kind=kind,
                incident_id=inc.id,
                title=inc.title,
                severity=inc.severity.value,
                service=inc.origin_service,
                state=self._state.value,
                summary=(self._plan.rationale if self._plan else f"{len(inc.alerts)} alert(s)"),
                proposed_action=action.summary if action else None,
                risk=action.risk.value if action else None,
                undo=action.undo_summary if action else None,
                approve_command=(f"incidentflow approve {inc.id}" if pending and action else None),
                plan_id=(self._plan.id or None) if self._plan and action else None,
                plan_digest=self._plan.digest if self._plan and action else None,
                detail=detail,
            )
        )

    def _event(
        self,
        kind: TimelineKind,
        actor: str,
        summary: str,
        *,
        at: datetime | None = None,
    ) -> TimelineEvent:
        event = TimelineEvent(at=at or workflow.now(), kind=kind, actor=actor, summary=summary)
        self._timeline.append(event)
        return event


def _with(what: str, why: str) -> str:
    return f"{what}: {why}" if why.strip() else what
