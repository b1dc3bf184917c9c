"""IncidentWorkflow: one incident from correlation to post-mortem, as a person sees it.

`run` reads as the incident's life: investigate, plan, wait for a person, act, verify, draft
the post-mortem. The state is one plain object (workflows/incident_state.py) whose pure
check/apply methods hold the incident's own life; what people ask of it and whether they are
believed (decisions, takeover verbs) are pure functions of that state in
workflows/incident_people.py; the steps that run activities or wait are in
workflows/incident_steps.py; execute -> verify -> undo is workflows/execution.py. The handlers
below are the workflow's whole surface, each a thin hand-off to the state or to those rules.

Every person's action is an update (validated, refused before it reaches history) and a signal
of the same name (for `temporal workflow signal`; an invalid one is recorded with who tried).
Whatever is judged against the incident's configuration (who is believed, the approval policy,
notifiers) waits until the configuration activity has answered: updates wait in their handler,
signals are held and applied in order once it is in. A failing agent parks the incident in
`needs_attention`; the workflow itself does not fail.

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from incidentflow.models import (
        AlertsResolved,
        Approval,
        Decision,
        DecisionRequest,
        IncidentInput,
        IncidentMoved,
        IncidentRecord,
        IncidentState,
        IncidentUpdate,
        OverrideRequest,
        SplitRequest,
        Stage,
        StageRequest,
        TakeoverRequest,
        TimelineEvent,
        TimelineKind,
    )
    from incidentflow.search import OWNER_KEY, SERVICE_KEY, STATE_KEY
    from workflows import incident_people as people
    from workflows.incident_people import R, Refused
    from workflows.incident_state import LiveIncident
    from workflows.incident_steps import IncidentSteps
    from workflows.signal_input import decode

KEYS = {"state": STATE_KEY, "service": SERVICE_KEY, "owner": OWNER_KEY}


@workflow.defn(name="IncidentWorkflow")
class IncidentWorkflow:
    """Investigate, plan, wait for a person, act, verify, draft the post-mortem."""

    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._s = LiveIncident.begin(inp, now=workflow.now)
        self._steps = IncidentSteps(self._s, self._publish)
        # Signals that arrived before the configuration: applied in order once it is in.
        self._held: list[Callable[[], object]] = []
        # Search attributes as the UI has them: the start sets them, `_publish` sends changes.
        self._shown = self._s.search_attributes()
        self._config_task: asyncio.Task[None] | None = None

    # -- the incident's life ----------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentRecord:
        """Drive the incident to a terminal state and return its full record."""
        s, steps = self._s, self._steps
        s.record_intake()
        s.release_input()
        # The configuration is needed first by a person's attempt or the approval gate: it is
        # read while the agents work.
        self._config_task = asyncio.create_task(self._configure())
        sender = asyncio.create_task(steps.deliver_notifications())
        watcher = asyncio.create_task(steps.watch_resolution())
        final = await self._respond()
        await steps.end(final)
        s.closing = True
        await sender
        await watcher
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._publish()
        return s.record()

    async def _respond(self) -> IncidentState:
        """Investigation to verified action; the state the incident ends in."""
        s, steps = self._s, self._steps
        stage = Stage.INVESTIGATION
        while s.resolved_by is None and s.withdrawn is None:
            if s.merged_into is not None:
                return IncidentState.MERGED
            if stage is Stage.INVESTIGATION:
                inv = await steps.stage(stage, steps.investigate, lambda o: o.investigation)
                s.adopt_investigation(inv or s.skipped_investigation())
                stage = Stage.PLANNING
            elif stage is Stage.PLANNING:
                await steps.gate(stage)  # a pause holds before re-planning, too
                if await steps.settle_changes():
                    stage = Stage.INVESTIGATION
                    continue
                plan = await steps.stage(stage, steps.plan_remediation, lambda o: o.plan)
                if plan is None:
                    if not s.ended():
                        s.event(TimelineKind.PLAN, "system", "remediation skipped by a person")
                    return s.end_state()
                plan = s.adopt_plan(plan)
                if plan.action is None:
                    await steps.park(stage, f"no action proposed: {plan.rationale}")
                    continue
                decision = await steps.await_decision()
                if decision is None:
                    stage = s.rewind()
                    continue
                s.changes.clear()  # decided: later changes no longer re-plan
                if decision.decision is Decision.EXPIRED:
                    return IncidentState.EXPIRED
                if decision.decision is Decision.REJECTED:
                    return IncidentState.REJECTED
                stage = Stage.EXECUTION
            else:
                await steps.gate(stage)
                if s.take_skip(Stage.EXECUTION) or s.resolved_by is not None:
                    return IncidentState.CLOSED
                action = s.plan.action if s.plan else None
                if action is None:
                    return IncidentState.NEEDS_ATTENTION
                if s.approval is None or s.approval.decision is not Decision.APPROVED:
                    # Nothing runs that a person did not approve: ask about the plan again.
                    stage = Stage.PLANNING
                    continue
                outcome = await steps.act(action)
                if outcome is True:
                    return IncidentState.CLOSED
                why = (
                    "the action could not run; retry execution, override the plan or resolve"
                    if outcome is None
                    else "verification failed and the action was undone; a person decides next"
                )
                await steps.park(stage, why)
                stage = s.rewind() if s.wake() else Stage.EXECUTION
        return s.end_state()

    async def _configure(self) -> None:
        """Read the incident's configuration; then apply the signals that waited for it."""
        self._s.adopt_config(await self._steps.read_config())
        held, self._held = self._held, []
        for apply in held:
            self._attempt(apply)
        self._publish()

    def _publish(self) -> None:
        """Show the state in the Temporal UI: current details, changed search attributes."""
        workflow.set_current_details(self._s.details())
        now = self._s.search_attributes()
        changed = [KEYS[k].value_set(v) for k, v in now.items() if self._shown.get(k) != v]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._shown = now

    # -- what people and the CLI read --------------------------------------------------------

    @workflow.query(name="record")
    def record(self) -> IncidentRecord:
        """Every artifact emitted so far, in order."""
        return self._s.record()

    # -- machines: the stream joins later alerts and says when they all resolved -------------

    @workflow.signal(name="alerts_joined")
    def alerts_joined(self, update: IncidentUpdate) -> None:
        """Alerts correlation joined to this incident after it opened (firing or resolved)."""
        self._s.join(update)
        self._publish()

    @workflow.signal(name="alerts_resolved")
    def alerts_resolved(self, msg: AlertsResolved) -> None:
        """The stream saw every alert of this incident resolve: mark the incident so."""
        self._s.mark_resolved(msg)

    # -- people: merge and split (each side records the move in its own timeline) ------------

    @workflow.update(name="merge_into")
    def merge_into(self, msg: IncidentMoved) -> IncidentMoved:
        """This incident is merged into `msg.other_id`: hand over its alerts and services.

        The incident then ends `merged`: a pending decision is cancelled and nothing of it
        runs. Asked again for the same target (a command re-run), it answers the same.
        """
        return self._s.apply_merge_into(msg)

    @merge_into.validator
    def _validate_merge_into(self, msg: IncidentMoved) -> None:
        self._s.check_merge_into(msg)

    @workflow.update(name="absorb")
    def absorb(self, msg: IncidentMoved) -> int:
        """Take alerts merged or split into this incident; returns its alert count."""
        count = self._s.apply_absorb(msg)
        self._publish()
        return count

    @workflow.update(name="split_out")
    def split_out(self, req: SplitRequest) -> IncidentMoved:
        """Move alerts out of this incident; the caller opens the new incident with them."""
        moved = self._s.apply_split_out(req)
        self._publish()
        return moved

    @split_out.validator
    def _validate_split_out(self, req: SplitRequest) -> None:
        self._s.check_split_out(req)

    # -- people: a decision on the pending plan ------------------------------------------------

    @workflow.update(name="approve")
    async def approve(self, req: DecisionRequest) -> Approval:
        """Approve the pending plan; the action runs once the policy's approvers agree."""
        return await self._decide(Decision.APPROVED, req)

    @approve.validator
    def _validate_approve(self, req: DecisionRequest) -> None:
        people.check_decidable(self._s, Decision.APPROVED, req)

    @workflow.update(name="reject")
    async def reject(self, req: DecisionRequest) -> Approval:
        """Reject the pending plan; nothing executes."""
        return await self._decide(Decision.REJECTED, req)

    @reject.validator
    def _validate_reject(self, req: DecisionRequest) -> None:
        people.check_decidable(self._s, Decision.REJECTED, req)

    @workflow.signal(name="approve")
    def approve_signal(self, raw: RawValue) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.APPROVED, raw)

    @workflow.signal(name="reject")
    def reject_signal(self, raw: RawValue) -> None:
        """Same as the update, for `temporal workflow signal`; an invalid one is recorded."""
        self._decide_by_signal(Decision.REJECTED, raw)

    @workflow.update(name="refresh")
    async def refresh(self, req: TakeoverRequest) -> TimelineEvent:
        """Read the incident's configuration again (approval policy and window, notifiers,
        settle and debounce windows): a changed setting on the workers applies from now on."""
        await self._steps.configured()
        await self._configure()
        return self._s.event(TimelineKind.TAKEOVER, req.by, self._s.config_line())

    @refresh.validator
    def _validate_refresh(self, req: TakeoverRequest) -> None:
        people.check_live(self._s, req)

    # -- people: take the wheel (the verbs that change what runs must be signed) -------------

    @workflow.update(name="pause")
    async def pause(self, req: TakeoverRequest) -> TimelineEvent:
        """Hold the incident at the next gate until someone resumes it."""
        return await self._take_over("pause", req, people.check_pause, people.apply_pause)

    @pause.validator
    def _validate_pause(self, req: TakeoverRequest) -> None:
        people.check_pause(self._s, req)

    @workflow.update(name="resume")
    async def resume(self, req: TakeoverRequest) -> TimelineEvent:
        """Let the agents go on from where the incident was paused."""
        return await self._take_over("resume", req, people.check_resume, people.apply_resume)

    @resume.validator
    def _validate_resume(self, req: TakeoverRequest) -> None:
        people.check_resume(self._s, req)

    @workflow.update(name="override")
    async def override(self, req: OverrideRequest) -> TimelineEvent:
        """Replace a stage's artifact with a person's own; the pipeline continues from it."""
        return await self._take_over("override", req, people.check_override, people.apply_override)

    @override.validator
    def _validate_override(self, req: OverrideRequest) -> None:
        people.check_override(self._s, req)

    @workflow.update(name="retry")
    async def retry(self, req: StageRequest) -> TimelineEvent:
        """Run a failed stage again."""
        return await self._take_over("retry", req, people.check_retry, people.apply_retry)

    @retry.validator
    def _validate_retry(self, req: StageRequest) -> None:
        people.check_retry(self._s, req)

    @workflow.update(name="skip")
    async def skip(self, req: StageRequest) -> TimelineEvent:
        """Go past a stage without its agent."""
        return await self._take_over("skip", req, people.check_skip, people.apply_skip)

    @skip.validator
    def _validate_skip(self, req: StageRequest) -> None:
        people.check_skip(self._s, req)

    @workflow.update(name="assign")
    async def assign(self, req: TakeoverRequest) -> TimelineEvent:
        """Make `text` the owner of the incident."""
        return await self._take_over("assign", req, people.check_owner, people.apply_assign)

    @assign.validator
    def _validate_assign(self, req: TakeoverRequest) -> None:
        people.check_owner(self._s, req)

    @workflow.update(name="note")
    async def note(self, req: TakeoverRequest) -> TimelineEvent:
        """Add a note to the timeline (and so to the post-mortem)."""
        return await self._take_over("note", req, people.check_note, people.apply_note)

    @note.validator
    def _validate_note(self, req: TakeoverRequest) -> None:
        people.check_note(self._s, req)

    @workflow.update(name="escalate")
    async def escalate(self, req: TakeoverRequest) -> TimelineEvent:
        """Call for help: recorded and sent to every notifier."""
        return await self._take_over("escalate", req, people.check_live, people.apply_escalate)

    @escalate.validator
    def _validate_escalate(self, req: TakeoverRequest) -> None:
        people.check_live(self._s, req)

    @workflow.update(name="resolve")
    async def resolve(self, req: TakeoverRequest) -> TimelineEvent:
        """The problem is fixed: stop remediating, draft the post-mortem, close."""
        return await self._take_over("resolve", req, people.check_resolve, people.apply_resolve)

    @resolve.validator
    def _validate_resolve(self, req: TakeoverRequest) -> None:
        people.check_resolve(self._s, req)

    # -- the same, as signals ----------------------------------------------------------------

    @workflow.signal(name="pause")
    def pause_signal(self, raw: RawValue) -> None:
        self._by_signal("pause", raw, TakeoverRequest, people.check_pause, people.apply_pause)

    @workflow.signal(name="resume")
    def resume_signal(self, raw: RawValue) -> None:
        self._by_signal("resume", raw, TakeoverRequest, people.check_resume, people.apply_resume)

    @workflow.signal(name="override")
    def override_signal(self, raw: RawValue) -> None:
        self._by_signal(
            "override", raw, OverrideRequest, people.check_override, people.apply_override
        )

    @workflow.signal(name="retry")
    def retry_signal(self, raw: RawValue) -> None:
        self._by_signal("retry", raw, StageRequest, people.check_retry, people.apply_retry)

    @workflow.signal(name="skip")
    def skip_signal(self, raw: RawValue) -> None:
        self._by_signal("skip", raw, StageRequest, people.check_skip, people.apply_skip)

    @workflow.signal(name="assign")
    def assign_signal(self, raw: RawValue) -> None:
        def check(s: LiveIncident, r: TakeoverRequest) -> None:
            people.check_text(s, r, "an owner")

        self._by_signal("assign", raw, TakeoverRequest, check, people.apply_assign)

    @workflow.signal(name="note")
    def note_signal(self, raw: RawValue) -> None:
        def check(s: LiveIncident, r: TakeoverRequest) -> None:
            people.check_text(s, r, "a text")

        self._by_signal("note", raw, TakeoverRequest, check, people.apply_note)

    @workflow.signal(name="escalate")
    def escalate_signal(self, raw: RawValue) -> None:
        self._by_signal("escalate", raw, TakeoverRequest, people.check_live, people.apply_escalate)

    @workflow.signal(name="resolve")
    def resolve_signal(self, raw: RawValue) -> None:
        self._by_signal("resolve", raw, TakeoverRequest, people.check_resolve, people.apply_resolve)

    # -- how a handler hands over to the state -------------------------------------------------

    async def _decide(self, decision: Decision, req: DecisionRequest) -> Approval:
        await self._steps.configured()
        try:
            return people.decide(self._s, decision, req, signal=False)
        except Refused as err:
            # Accepted into history so who tried is on record, then failed for the caller.
            raise ApplicationError(str(err), type=err.kind, non_retryable=True) from None
        finally:
            self._publish()

    async def _take_over(
        self,
        verb: str,
        req: R,
        check: Callable[[LiveIncident, R], None],
        apply: Callable[[LiveIncident, R], TimelineEvent],
    ) -> TimelineEvent:
        await self._steps.configured()
        try:
            return people.takeover(self._s, verb, req, check, apply, signal=False)
        except Refused as err:
            raise ApplicationError(str(err), type=err.kind, non_retryable=True) from None
        finally:
            self._publish()

    def _decide_by_signal(self, decision: Decision, raw: RawValue) -> None:
        verb = "approve" if decision is Decision.APPROVED else "reject"
        req = decode(raw, DecisionRequest)
        if isinstance(req, str):
            people.refuse_malformed(self._s, verb, req, decision=True)
            return
        self._when_configured(lambda: people.decide(self._s, decision, req, signal=True))

    def _by_signal(
        self,
        verb: str,
        raw: RawValue,
        model: type[R],
        check: Callable[[LiveIncident, R], None],
        apply: Callable[[LiveIncident, R], TimelineEvent],
    ) -> None:
        req = decode(raw, model)
        if isinstance(req, str):
            people.refuse_malformed(self._s, verb, req, decision=False)
            return
        self._when_configured(
            lambda: people.takeover(self._s, verb, req, check, apply, signal=True)
        )

    def _when_configured(self, apply: Callable[[], object]) -> None:
        """A signal cannot wait: hold it until the configuration is in, then apply it."""
        if self._s.config_ready:
            self._attempt(apply)
        else:
            self._held.append(apply)

    def _attempt(self, apply: Callable[[], object]) -> None:
        # A refused signal was recorded by the state: the history tells who tried and why.
        with contextlib.suppress(Refused):
            apply()
        self._publish()
