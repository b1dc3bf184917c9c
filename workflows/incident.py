"""IncidentWorkflow: one incident from correlation to post-mortem, as a person sees it.

Deterministic orchestration only: agents run as activities on the agents' task queue, the
approved action on the remediation queue, and the workflow keeps every artifact they emit.
A gate before every agent step honours a person's pause, override, retry, skip and resolve
(workflows/takeover.py); approval, execution, verification and undo live in
workflows/acting.py. A failing agent parks the incident in `needs_attention`; the workflow
itself does not fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.investigation import InvestigationActivities
    from activities.postmortem import PostmortemActivities
    from activities.remediation import RemediationActivities
    from incidentflow.identity.signing import plan_digest
    from incidentflow.models import (
        ActionResult,
        Alert,
        Approval,
        Decision,
        DownstreamAlert,
        Duplicate,
        Incident,
        IncidentClosed,
        IncidentConfig,
        IncidentInput,
        IncidentRecord,
        IncidentState,
        IncidentUpdate,
        Investigation,
        InvestigationInput,
        NotificationKind,
        OverrideRequest,
        PlanInput,
        PostMortem,
        PostmortemInput,
        RemediationPlan,
        Stage,
        TimelineEvent,
        TimelineKind,
        Verification,
    )
    from incidentflow.search import SERVICE_KEY
    from workflows import joins, living, policies
    from workflows.acting import ActingSteps
    from workflows.moves import MoveHandlers
    from workflows.names import INCIDENT_CLOSED_SIGNAL


T = TypeVar("T")


@workflow.defn(name="IncidentWorkflow")
class IncidentWorkflow(MoveHandlers, ActingSteps):
    """Investigate, plan, wait for a person, act, verify, draft the post-mortem."""

    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._inp = inp
        self._incident = inp.incident
        # Bounded detail (issue 14): the first MAX_DETAIL alerts in full, the rest counted.
        kept, counted = joins.take_detail({}, inp.incident.alerts)
        self._alerts: dict[str, Alert] = {a.fingerprint: a for a in kept}
        self._digest = joins.add_to_digest(None, counted)
        self._services: list[str] = list(inp.incident.services)
        self._downstream: list[DownstreamAlert] = joins.capped([], inp.incident.downstream)
        self._duplicates: list[Duplicate] = joins.capped([], inp.incident.duplicates)
        self._state = IncidentState.OPEN
        self._waiting_for = "starting"
        self._investigation: Investigation | None = None
        self._plan: RemediationPlan | None = None
        self._approval: Approval | None = None
        self._results: list[ActionResult] = []
        self._verification: Verification | None = None
        self._postmortem: PostMortem | None = None
        self._timeline: list[TimelineEvent] = []
        # Issue 17: every version, oldest first; material changes not yet investigated.
        self._investigations: list[Investigation] = []
        self._plans: list[RemediationPlan] = []
        self._changes: list[str] = []
        self._asked = False
        # Until the config activity answers: anyone approves, high risk needs two, no notifier.
        self._config = IncidentConfig()
        self._closing = False
        self._config_loading = None
        self._replan_reason = ""
        self._init_takeover()
        self._init_acting()
        self._init_moves()

    # -- what people and the CLI read ------------------------------------------------------

    def _current_incident(self) -> Incident:
        """The incident as it stands now: joined alerts, added services, the current origin."""
        return self._incident.model_copy(
            update={
                "alerts": list(self._alerts.values()),
                "services": self._services,
                "downstream": self._downstream,
                "duplicates": self._duplicates,
            }
        )

    @workflow.query(name="record")
    def record(self) -> IncidentRecord:
        """Every artifact emitted so far, in order."""
        return IncidentRecord(
            incident=self._current_incident(),
            state=self._state,
            waiting_for=self._waiting_for,
            detections=self._inp.detections[: joins.MAX_DETAIL],
            investigation=self._investigation,
            plan=self._plan,
            approval=self._approval,
            results=self._results,
            verification=self._verification,
            postmortem=self._postmortem,
            timeline=self._timeline,
            decisions=self._decisions,
            owner=self._owner,
            paused=self._paused_by is not None,
            escalated=self._escalated,
            parked_stage=self._parked.value if self._parked else None,
            verifications=self._verifications,
            digest=self._digest,
            investigations=self._investigations,
            plans=self._plans,
            merged_into=self._merged_into,
        )

    # -- machines: the stream joins later alerts to this incident --------------------------

    @workflow.signal(name="alerts_joined")
    def alerts_joined(self, update: IncidentUpdate) -> None:
        """Alerts correlation joined to this incident after it opened (firing or resolved)."""
        changes = living.material_changes(
            update,
            alerts=self._alerts,
            services=self._services,
            origin=self._incident.origin_service,
        )
        self._services += [s for s in update.services if s not in self._services]
        if update.origin_service and update.origin_service != self._incident.origin_service:
            # A deeper failing dependency joined: correlation re-explained every alert.
            was, now = self._incident.origin_service, update.origin_service
            why = f"origin moved from {was} to {now}: {update.origin_reason}"
            self._event(TimelineKind.CORRELATION, "correlation", why)
            self._incident = self._incident.model_copy(update={"origin_service": now})
            self._downstream = joins.capped([], update.downstream)
            workflow.upsert_search_attributes([SERVICE_KEY.value_set(update.origin_service)])
        else:
            self._downstream = joins.capped(self._downstream, update.downstream)
        self._duplicates = joins.capped(self._duplicates, update.duplicates)
        for line in joins.duplicate_lines(update):
            self._event(TimelineKind.ALERT, "correlation", line)
        for line in joins.join_summaries(update, self._alerts):
            self._event(TimelineKind.ALERT, "correlation", line)
        kept, counted = joins.take_detail(self._alerts, update.alerts)
        self._alerts.update((alert.fingerprint, alert) for alert in kept)
        self._digest = joins.add_to_digest(self._digest, counted)
        self._show_details()
        if changes and self._may_reinvestigate():
            self._changes += changes

    # -- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentRecord:
        """Drive the incident to a terminal state and return its full record."""
        self._record_intake()
        # The policy is needed only at the approval gate: read it while the agents work.
        self._config_loading = asyncio.create_task(self._load_config())
        sender = asyncio.create_task(self._deliver_notifications())
        watcher = asyncio.create_task(self._watch_resolution())
        final = await self._respond()
        if final is IncidentState.MERGED:
            await self._end_merged()
        else:
            await self._finish(final)
        self._closing = True
        await sender
        await watcher
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.record()

    async def _respond(self) -> IncidentState:
        """Investigation to verified action; the state the incident ends in."""
        stage = Stage.INVESTIGATION
        while self._resolved_by is None and self._withdrawn is None:
            if self._merged_into is not None:
                return IncidentState.MERGED
            if stage is Stage.INVESTIGATION:
                inv = await self._stage(stage, self._investigate, lambda o: o.investigation)
                self._adopt_investigation(inv or self._skipped_investigation())
                stage = Stage.PLANNING
            elif stage is Stage.PLANNING:
                await self._gate(stage)  # a pause holds before re-planning, too
                if await self._settle_changes():
                    stage = Stage.INVESTIGATION
                    continue
                plan = await self._stage(stage, self._plan_remediation, lambda o: o.plan)
                if plan is None:
                    if self._resolved_by is None and self._withdrawn is None:
                        self._event(TimelineKind.PLAN, "system", "remediation skipped by a person")
                    return self._end_state()
                self._adopt_plan(plan)
                if plan.action is None:
                    await self._park(stage, f"no action proposed: {plan.rationale}")
                    continue
                decision = await self._await_decision()
                if decision is None:
                    stage = self._rewind()
                    continue
                self._changes.clear()  # decided: later changes no longer re-plan
                if decision.decision is Decision.EXPIRED:
                    return IncidentState.EXPIRED
                if decision.decision is Decision.REJECTED:
                    return IncidentState.REJECTED
                stage = Stage.EXECUTION
            else:
                await self._gate(stage)
                if Stage.EXECUTION in self._skips or self._resolved_by is not None:
                    self._skips.discard(Stage.EXECUTION)
                    return IncidentState.CLOSED
                action = self._plan.action if self._plan else None
                if action is None:
                    return IncidentState.NEEDS_ATTENTION
                if self._approval is None or self._approval.decision is not Decision.APPROVED:
                    # Nothing runs that a person did not approve: ask about the plan again.
                    stage = Stage.PLANNING
                    continue
                outcome = await self._act(action)
                if outcome is True:
                    return IncidentState.CLOSED
                why = (
                    "the action could not run; retry execution, override the plan or resolve"
                    if outcome is None
                    else "verification failed and the action was undone; a person decides next"
                )
                await self._park(stage, why)
                stage = self._rewind() if self._wake() else Stage.EXECUTION
        return self._end_state()

    def _end_state(self) -> IncidentState:
        """Closed, or resolved when the alerts resolved on their own before any approval."""
        if self._merged_into is not None:
            return IncidentState.MERGED
        return IncidentState.RESOLVED if self._withdrawn is not None else IncidentState.CLOSED

    def _rewind(self) -> Stage:
        """Where the loop goes after a person's override, a skip or a change interrupted a wait."""
        if self._replan_reason or Stage.INVESTIGATION in self._overrides:
            return Stage.INVESTIGATION  # a re-investigation was called for, or a person's own
        if self._changes or Stage.PLANNING in self._overrides or Stage.PLANNING in self._skips:
            return Stage.PLANNING
        return Stage.EXECUTION

    async def _stage(
        self,
        stage: Stage,
        agent: Callable[[], Awaitable[T]],
        person: Callable[[OverrideRequest], T | None],
    ) -> T | None:
        """Gate, then a person's artifact or the agent's; None when skipped or resolved."""
        while True:
            await self._gate(stage)
            ended = (
                self._resolved_by is not None
                or self._withdrawn is not None
                or self._merged_into is not None
            )
            if ended and stage is not Stage.POSTMORTEM:
                return None
            override = self._overrides.pop(stage, None)
            if override is not None:
                self._event(
                    TimelineKind.TAKEOVER, override.by, f"{stage.value}: using a person's artifact"
                )
                return person(override)
            if stage in self._skips:
                self._skips.discard(stage)
                return None
            try:
                return await agent()
            except ActivityError as err:
                if workflow.cancellation_reason() is not None:
                    raise  # the workflow was cancelled (the UI's button): it ends cancelled
                self._event(TimelineKind.STATE, stage.value, f"failed: {err.cause or err}")
                await self._park(stage, f"{stage.value} failed: {err.cause or err}")

    async def _gate(self, stage: Stage) -> None:
        """Hold while paused; a resolve also lets the loop go on (to close)."""
        if self._paused_by is None:
            return
        self._waiting_for = (
            f"paused by {self._paused_by} before {stage.value}: "
            f"`incidentflow resume {self._incident.id}`"
        )
        self._show_details()
        await workflow.wait_condition(
            lambda: (
                self._paused_by is None
                or self._resolved_by is not None
                or self._withdrawn is not None
                or self._merged_into is not None
            )
        )

    async def _park(self, stage: Stage, why: str) -> None:
        """needs_attention until a person retries, skips, overrides or resolves."""
        await self._config_ready()
        self._parked = stage
        self._event(TimelineKind.STATE, "system", f"needs attention: {why}")
        self._set_state(
            IncidentState.NEEDS_ATTENTION,
            f"a person to retry, skip or override {stage.value}, or resolve "
            f"(`incidentflow retry {self._incident.id} {stage.value}`)",
        )
        await workflow.wait_condition(
            lambda: (
                stage in self._retries
                or stage in self._overrides
                or stage in self._skips
                or self._wake()
            )
        )
        self._retries.discard(stage)
        self._parked = None

    # -- stages ----------------------------------------------------------------------------

    def _record_intake(self) -> None:
        self._record_split_from()
        inc = self._incident
        for alert in joins.intake_alerts(inc.alerts):
            self._event(
                TimelineKind.ALERT,
                alert.source,
                f"{alert.status.value}: {alert.name} - {alert.summary}",
                at=alert.starts_at,
            )
        for det in self._inp.detections[: joins.LISTED_AT_INTAKE]:
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

    async def _investigate(self) -> Investigation:
        self._set_state(IncidentState.INVESTIGATING, "the investigation agent")
        result = await workflow.execute_activity_method(
            InvestigationActivities.investigate,
            InvestigationInput(incident=self._current_incident()),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.INVESTIGATION_TIMEOUT,
            heartbeat_timeout=policies.INVESTIGATION_HEARTBEAT,
            retry_policy=policies.AGENT_RETRY,
            summary=f"investigate {self._incident.origin_service or 'incident'}",
        )
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

    async def _end_merged(self) -> None:
        """A merged-away incident ends: its pending decision cancelled, nothing executed."""
        self._event(
            TimelineKind.STATE,
            "system",
            f"ended: merged into {self._merged_into}; its plan was cancelled and nothing of "
            "it will run",
        )
        self._set_state(IncidentState.MERGED, f"nothing: {self._merged_into} carries on")
        await self._tell_stream()

    def _skipped_investigation(self) -> Investigation:
        return Investigation(
            incident_id=self._incident.id,
            hypotheses=[],
            rejected=[],
            evidence=[],
            summary="investigation skipped by a person",
        )

    async def _plan_remediation(self) -> RemediationPlan:
        investigation = self._investigation or self._skipped_investigation()
        self._set_state(IncidentState.PLANNING, "the remediation agent")
        return await workflow.execute_activity_method(
            RemediationActivities.plan_remediation,
            PlanInput(incident=self._current_incident(), investigation=investigation),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.PLANNING_TIMEOUT,
            retry_policy=policies.AGENT_RETRY,
            summary="plan a reversible action",
        )

    def _adopt_investigation(self, inv: Investigation) -> None:
        self._investigation = inv
        self._investigations.append(inv)

    def _adopt_plan(self, plan: RemediationPlan) -> None:
        """Make `plan` the current version: numbered, digested, kept beside the earlier ones."""
        plan = plan.model_copy(
            update={
                "id": living.plan_id(self._incident.id, len(self._plans) + 1),
                "digest": plan_digest(plan.action),
                "reason": self._replan_reason,
            }
        )
        replaced = self._plan if self._plans else None
        self._plan = plan
        self._plans.append(plan)
        actor = "person" if plan.engine.value == "person" else "remediation"
        version = f"plan {plan.id}" + (f" replaces {replaced.id}" if replaced else "")
        if plan.action is None:
            self._event(
                TimelineKind.PLAN, actor, f"{version}: no action proposed: {plan.rationale}"
            )
        else:
            self._event(
                TimelineKind.PLAN,
                actor,
                f"{version}: proposed {plan.action.summary} (risk {plan.action.risk.value}; "
                f"undo: {plan.action.undo_summary}; digest {(plan.digest or '')[:19]})",
            )
        if replaced is not None and self._asked:
            # The person asked about the old plan hears it was replaced before deciding.
            self._asked = False
            self._notify(
                NotificationKind.PLAN_CHANGED,
                f"{replaced.id} was replaced by {plan.id} ({self._replan_reason}); a decision "
                f"on {replaced.id} is refused",
            )
        self._replan_reason = ""

    async def _draft(self) -> PostMortem:
        self._set_state(IncidentState.DRAFTING_POSTMORTEM, "the post-mortem agent")
        return await workflow.execute_activity_method(
            PostmortemActivities.draft_postmortem,
            PostmortemInput(record=self.record(), write=True),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.POSTMORTEM_TIMEOUT,
            retry_policy=policies.AGENT_RETRY,
            summary="draft the post-mortem",
        )

    async def _finish(self, final: IncidentState) -> None:
        pm = await self._stage(Stage.POSTMORTEM, self._draft, lambda o: o.postmortem)
        if pm is not None:
            self._postmortem = pm
            self._event(TimelineKind.POSTMORTEM, "postmortem", "draft written")
        else:
            self._event(TimelineKind.POSTMORTEM, "postmortem", "post-mortem skipped")
        waiting = "a person to take over" if final is IncidentState.NEEDS_ATTENTION else "nothing"
        self._set_state(final, waiting)
        await self._tell_stream()

    async def _tell_stream(self) -> None:
        stream = workflow.get_external_workflow_handle(self._inp.stream_workflow_id)
        try:
            await stream.signal(
                INCIDENT_CLOSED_SIGNAL, IncidentClosed(incident_id=self._incident.id)
            )
        except Exception as err:
            workflow.logger.warning("could not tell stream %s: %s", stream.id, err)
