"""What people ask of an incident, and whether they are believed: pure rules over its state.

The incident's own life (intake, stages, plan versions, the living investigation, withdraw,
merge and split, its record) is `LiveIncident` in workflows/incident_state.py, the one state
object. This module holds what people ask of it: admission of each attempt
(incidentflow/identity/admission.py), approve and reject with the approval policy and the
decisions audit, and the takeover verbs (pause, resume, override, retry, skip, assign, note,
escalate, resolve). Each is a function of that state: `check_*` raise ValueError (the update is
refused before it reaches history), `apply_*` change the state and return the timeline event,
`decide` and `takeover` judge one attempt and record it either way. The handlers in
workflows/incident.py hand each request here; tests/unit/test_incident_state_rules.py drives
the same functions without a server.

Deterministic module: no I/O, no randomness; the clock is the state's `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from incidentflow.identity.admission import GUARDED_VERBS, Admission, Claimed, Pending, admit
from incidentflow.models import (
    Approval,
    Decision,
    DecisionRequest,
    Engine,
    IncidentState,
    NotificationKind,
    OverrideRequest,
    Stage,
    StageRequest,
    TakeoverRequest,
    TimelineEvent,
    TimelineKind,
)
from workflows.incident_state import ACTING, LiveIncident
from workflows.overrides import (
    investigation_problem,
    plan_problem,
    postmortem_problem,
    regenerated,
)

R = TypeVar("R", TakeoverRequest, StageRequest, OverrideRequest)


class Refused(Exception):
    """An attempt that was recorded (who tried, why refused) and then failed for the caller;
    `kind` is the error type the update answers with."""

    def __init__(self, why: str, *, kind: str) -> None:
        super().__init__(why)
        self.kind = kind


def _with(what: str, why: str) -> str:
    return f"{what}: {why}" if why.strip() else what


# -- who is believed (incidentflow/identity/admission.py) ------------------------------------


def pending(s: LiveIncident) -> Pending:
    plan = s.plan
    return Pending(
        incident_id=s.incident.id,
        service=s.incident.origin_service,
        plan_id=plan.id or None if plan else None,
        plan_digest=plan.digest if plan else None,
        now=s.now(),
    )


def admit_attempt(s: LiveIncident, verb: str, req: Claimed, *, signal: bool) -> Admission:
    """Judge one attempt against the configuration's trust; a used nonce is spent."""
    admission = admit(
        verb,
        req,
        signal=signal,
        pending=pending(s),
        trust=s.config.trust,
        seen_nonces=s.nonces,
    )
    if admission.nonce is not None:
        s.nonces.add(admission.nonce)
    return admission


def _audited(
    s: LiveIncident, decision: Decision, admission: Admission, reason: str, approvers: list[str]
) -> Approval:
    return Approval(
        decision=decision,
        by=admission.by,
        at=s.now(),
        reason=reason,
        approvers=approvers,
        identity=admission.identity,
        authenticated=admission.authenticated,
        path=admission.path,
        plan_id=admission.plan_id,
        plan_digest=admission.plan_digest,
    )


# -- decisions: approve and reject ---------------------------------------------------------


def check_decidable(s: LiveIncident, decision: Decision, req: DecisionRequest) -> None:
    if s.merged_into is not None:
        raise ValueError(
            f"{s.incident.id} was merged into {s.merged_into}; its plan was "
            "cancelled: decide on that incident"
        )
    if s.withdrawn is not None:
        raise ValueError(f"{s.incident.id}'s plan was withdrawn: {s.withdrawn}")
    if s.approval is not None:
        prev = s.approval
        raise ValueError(
            f"{s.incident.id} was already {prev.decision.value} by {prev.by} "
            f"at {prev.at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if s.state is not IncidentState.AWAITING_APPROVAL:
        raise ValueError(
            f"{s.incident.id} has no pending decision (state: {s.state.value}); "
            f"it waits for {s.waiting_for}"
        )
    if decision is Decision.REJECTED and not req.reason.strip():
        raise ValueError("a rejection needs a reason (--reason TEXT)")


def decide(s: LiveIncident, decision: Decision, req: DecisionRequest, *, signal: bool) -> Approval:
    """One decision attempt: admitted, checked against the policy, recorded either way.

    Raises Refused (recorded first) when it does not count.
    """
    verb = "approve" if decision is Decision.APPROVED else "reject"
    # A signal is admitted first so that a refused one is recorded with who it was; an
    # update's check already ran as its validator and runs again after any wait.
    admitted = admit_attempt(s, verb, req, signal=True) if signal else None
    try:
        check_decidable(s, decision, req)
    except ValueError as err:
        if admitted is not None:
            _refuse_decision(s, decision, admitted, str(err))
        raise Refused(str(err), kind="DecisionRefused") from None
    admission = admitted or admit_attempt(s, verb, req, signal=False)
    refusal = admission.refusal
    if refusal is None and decision is Decision.APPROVED:
        refusal = _policy_refusal(s, admission)
    if refusal is not None:
        _refuse_decision(s, decision, admission, refusal)
        kind = "ApprovalRefused" if decision is Decision.APPROVED else "RejectRefused"
        raise Refused(refusal, kind=kind)
    return _decided(s, decision, req, admission)


def _policy_refusal(s: LiveIncident, admission: Admission) -> str | None:
    action = s.plan.action if s.plan else None
    if action is None:
        return None
    return s.config.policy.refusal(admission.by, action.risk, s.approvers)


def _refuse_decision(s: LiveIncident, decision: Decision, admission: Admission, why: str) -> None:
    verb = "approval" if decision is Decision.APPROVED else "rejection"
    s.decisions.append(_audited(s, Decision.REFUSED, admission, f"{verb} refused: {why}", []))
    s.event(TimelineKind.DECISION, admission.by, f"{verb} refused: {why}")


def _decided(
    s: LiveIncident, decision: Decision, req: DecisionRequest, admission: Admission
) -> Approval:
    why = f": {req.reason}" if req.reason else ""
    by = admission.by
    if decision is Decision.APPROVED:
        s.approvers.append(by)
        action = s.plan.action if s.plan else None
        needed = s.config.policy.required(action.risk) if action else 1
        if len(s.approvers) < needed:
            partial = _audited(s, decision, admission, req.reason, list(s.approvers))
            s.decisions.append(partial)
            s.event(
                TimelineKind.DECISION,
                by,
                f"approval {len(s.approvers)} of {needed}{why}; waiting for "
                f"{needed - len(s.approvers)} more different approver(s)",
            )
            s.set_state(IncidentState.AWAITING_APPROVAL, s.decision_waiting())
            return partial
    final = _audited(s, decision, admission, req.reason, list(s.approvers))
    s.approval = final
    s.decisions.append(final)
    s.event(TimelineKind.DECISION, by, f"{decision.value}{why}")
    return final


def refuse_malformed(s: LiveIncident, name: str, why: str, *, decision: bool) -> None:
    """A signal whose input did not decode: recorded with the reason."""
    kind = TimelineKind.DECISION if decision else TimelineKind.TAKEOVER
    s.event(kind, "unknown", f"malformed {name} signal: {why}")


# -- takeover: a person takes the wheel (workflows/incident.py has the handlers) ---------


def takeover(
    s: LiveIncident,
    verb: str,
    req: R,
    check: Callable[[LiveIncident, R], None],
    apply: Callable[[LiveIncident, R], TimelineEvent],
    *,
    signal: bool,
) -> TimelineEvent:
    """One takeover attempt; the verbs that change what runs are believed only when signed.

    Raises Refused (recorded first) when it does not count. An update's `check` already
    ran as its validator; it runs again here because the attempt may have waited for the
    configuration, and a signal cannot be refused before it reaches history.
    """
    try:
        check(s, req)
    except ValueError as err:
        if signal:
            s.event(TimelineKind.TAKEOVER, req.by, f"refused {verb} signal: {err}")
        raise Refused(str(err), kind="TakeoverRefused") from None
    if verb not in GUARDED_VERBS:
        return apply(s, req)
    admission = admit_attempt(s, verb, req, signal=signal)
    if admission.refusal is not None:
        why = f"{verb} refused: {admission.refusal}"
        s.decisions.append(
            Approval(
                decision=Decision.REFUSED,
                by=admission.by,
                at=s.now(),
                reason=why,
                identity=admission.identity,
                authenticated=admission.authenticated,
                path=admission.path,
            )
        )
        s.event(TimelineKind.TAKEOVER, admission.by, why)
        raise Refused(admission.refusal, kind="TakeoverRefused")
    return apply(s, req.model_copy(update={"by": admission.by}))


def check_not_ended(s: LiveIncident) -> None:
    if s.merged_into is not None:
        raise ValueError(f"{s.incident.id} was merged into {s.merged_into}; act on that one")
    if s.state.terminal or s.state is IncidentState.DRAFTING_POSTMORTEM:
        raise ValueError(f"{s.incident.id} is {s.state.value}; there is nothing left to take over")


def check_text(s: LiveIncident, req: TakeoverRequest, what: str) -> None:
    check_not_ended(s)
    if not req.text.strip():
        raise ValueError(f"give {what}")


def check_live(s: LiveIncident, req: TakeoverRequest) -> None:
    """Escalate and refresh ask only that the incident has not ended."""
    check_not_ended(s)


def check_owner(s: LiveIncident, req: TakeoverRequest) -> None:
    check_text(s, req, "an owner (--to NAME)")


def check_note(s: LiveIncident, req: TakeoverRequest) -> None:
    check_text(s, req, "the note's text")


def check_pause(s: LiveIncident, req: TakeoverRequest) -> None:
    check_not_ended(s)
    if s.paused_by is not None:
        raise ValueError(f"{s.incident.id} is already paused by {s.paused_by}")


def check_resume(s: LiveIncident, req: TakeoverRequest) -> None:
    if s.paused_by is None:
        raise ValueError(f"{s.incident.id} is not paused")


def check_resolve(s: LiveIncident, req: TakeoverRequest) -> None:
    check_not_ended(s)
    if s.resolved_by is not None:
        raise ValueError(f"{s.incident.id} was already resolved by {s.resolved_by}")


def check_retry(s: LiveIncident, req: StageRequest) -> None:
    check_not_ended(s)
    if s.parked is not req.stage:
        where = s.parked.value if s.parked else "no stage"
        raise ValueError(f"only a failed stage can be retried; {where} is waiting for one")
    if req.stage is Stage.EXECUTION and not s.execution_failed:
        raise ValueError(
            "the action already ran and was undone; override the plan or resolve instead"
        )


def check_skip(s: LiveIncident, req: StageRequest) -> None:
    check_not_ended(s)
    if s.parked is req.stage:
        return
    done = {
        Stage.INVESTIGATION: s.investigation is not None,
        Stage.PLANNING: s.plan is not None,
        Stage.EXECUTION: s.state in ACTING or s.parked is not None,
        Stage.POSTMORTEM: s.postmortem is not None,
    }[req.stage]
    if done:
        raise ValueError(f"{req.stage.value} has already run; it can no longer be skipped")


def check_override(s: LiveIncident, req: OverrideRequest) -> None:
    check_not_ended(s)
    inc = s.incident.id
    if req.stage is Stage.EXECUTION:
        raise ValueError("execution has no artifact to override: override the plan instead")
    if s.state in ACTING and req.stage is not Stage.POSTMORTEM:
        raise ValueError(f"{inc} is {s.state.value}; wait until the action is verified")
    if req.stage is Stage.INVESTIGATION:
        problem = investigation_problem(req.investigation, inc)
    elif req.stage is Stage.PLANNING:
        problem = plan_problem(regenerated(req.plan), inc, s.plan)
    else:
        problem = postmortem_problem(req.postmortem, inc, s.postmortem)
    if problem is not None:
        raise ValueError(problem)


def apply_pause(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    s.paused_by = req.by
    return s.event(TimelineKind.TAKEOVER, req.by, _with("paused", req.text))


def apply_resume(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    s.paused_by = None
    return s.event(TimelineKind.TAKEOVER, req.by, _with("resumed", req.text))


def apply_override(s: LiveIncident, req: OverrideRequest) -> TimelineEvent:
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
    s.overrides[req.stage] = req
    return s.event(
        TimelineKind.TAKEOVER, req.by, _with(f"override of {req.stage.value}", req.reason)
    )


def apply_retry(s: LiveIncident, req: StageRequest) -> TimelineEvent:
    s.retries.add(req.stage)
    return s.event(TimelineKind.TAKEOVER, req.by, _with(f"retry {req.stage.value}", req.reason))


def apply_skip(s: LiveIncident, req: StageRequest) -> TimelineEvent:
    s.skips.add(req.stage)
    return s.event(TimelineKind.TAKEOVER, req.by, _with(f"skip {req.stage.value}", req.reason))


def apply_assign(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    s.owner = req.text.strip()
    return s.event(TimelineKind.TAKEOVER, req.by, f"assigned to {s.owner}")


def apply_note(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    return s.event(TimelineKind.NOTE, req.by, req.text.strip())


def apply_escalate(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    s.escalated = True
    event = s.event(TimelineKind.TAKEOVER, req.by, _with("escalated", req.text))
    s.notify(NotificationKind.ESCALATED, f"escalated by {req.by}: {req.text or '-'}")
    return event


def apply_resolve(s: LiveIncident, req: TakeoverRequest) -> TimelineEvent:
    s.resolved_by = req.by
    return s.event(TimelineKind.TAKEOVER, req.by, _with("resolved", req.text))
