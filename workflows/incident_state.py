"""One incident's state as a plain object: what the workflow holds, and the incident's own life.

`LiveIncident` is everything IncidentWorkflow's run and handlers read and write: the incident as
it stands (alerts joined, services added, the current origin), every artifact and version, the
decisions audit, what people asked for (pause, overrides, skips, retries, resolve), and the
outbox of notifications. It is the one source of truth. Its methods are the incident's own
life: intake, stages, plan versions, the approval window, the living investigation, the settle
rule that withdraws a plan, merge and split (`check_*` raise ValueError, refusing the update
before it reaches history; `apply_*` change the state), and its views (`record`, `details`,
`search_attributes`). What people ask of it and whether they are believed (admission, approve
and reject, the takeover verbs) are pure functions of this state in
workflows/incident_people.py. Both are unit-tested as plain code
(tests/unit/test_incident_state_rules.py). The workflow (workflows/incident.py) runs
activities, waits, and publishes `details()` and `search_attributes()` to the Temporal UI; this
module does neither.

Why one file past 400 lines: the life's rules read what each other write (a merge refuses while
an action runs; a withdrawal needs no decision yet; a re-plan needs the current plan's engine),
so splitting it further would split one set of rules across files.

Deterministic module: no I/O, no randomness; the clock is the `now` the workflow passes in
(`workflow.now`), a fixed one in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from incidentflow.identity.signing import plan_digest
from incidentflow.models import (
    ActionResult,
    Alert,
    AlertDigest,
    AlertsResolved,
    AlertStatus,
    Approval,
    Decision,
    DownstreamAlert,
    Duplicate,
    Engine,
    Incident,
    IncidentConfig,
    IncidentInput,
    IncidentMoved,
    IncidentRecord,
    IncidentState,
    IncidentUpdate,
    Investigation,
    Notification,
    NotificationKind,
    OverrideRequest,
    PostMortem,
    RemediationPlan,
    SplitRequest,
    Stage,
    TimelineEvent,
    TimelineKind,
    Verification,
)
from incidentflow.search import UNASSIGNED
from workflows import joins, living

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


def split_key(fingerprints: list[str]) -> str:
    """One split's identity: its fingerprints, sorted and without repeats."""
    return ",".join(sorted(set(fingerprints)))


@dataclass
class LiveIncident:
    """The incident workflow's whole state; build it with `LiveIncident.begin`."""

    inp: IncidentInput
    now: Callable[[], datetime]
    incident: Incident
    alerts: dict[str, Alert]
    digest: AlertDigest | None
    services: list[str]
    downstream: list[DownstreamAlert]
    duplicates: list[Duplicate]
    state: IncidentState = IncidentState.OPEN
    waiting_for: str = "starting"
    # Until the config activity answers, `config` is the default and `config_ready` is False:
    # whatever judges a person's attempt waits for the real one (the workflow sees to it).
    config: IncidentConfig = field(default_factory=IncidentConfig)
    config_ready: bool = False
    investigation: Investigation | None = None
    plan: RemediationPlan | None = None
    approval: Approval | None = None
    postmortem: PostMortem | None = None
    verification: Verification | None = None
    results: list[ActionResult] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    # Every version, oldest first; material changes not yet investigated (workflows/living.py).
    investigations: list[Investigation] = field(default_factory=list)
    plans: list[RemediationPlan] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    replan_reason: str = ""
    asked: bool = False
    # Every decision attempt (refused ones too); who approved the pending plan so far.
    decisions: list[Approval] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    # What people asked for; the run loop honours them at its gates.
    paused_by: str | None = None
    resolved_by: str | None = None
    overrides: dict[Stage, OverrideRequest] = field(default_factory=dict)
    skips: set[Stage] = field(default_factory=set)
    retries: set[Stage] = field(default_factory=set)
    parked: Stage | None = None
    owner: str | None = None
    escalated: bool = False
    execution_failed: bool = False
    outbox: list[Notification] = field(default_factory=list)
    # Splits done, by split_key: the same split asked again gets the same answer.
    splits: dict[str, IncidentMoved] = field(default_factory=dict)
    # Why the plan was withdrawn (every alert resolved on its own); the incident merged into.
    withdrawn: str | None = None
    merged_into: str | None = None
    closing: bool = False

    @classmethod
    def begin(cls, inp: IncidentInput, *, now: Callable[[], datetime]) -> LiveIncident:
        """The state of a new incident: the first MAX_DETAIL alerts in full, the rest counted."""
        kept, counted = joins.take_detail({}, inp.incident.alerts)
        return cls(
            inp=inp,
            now=now,
            incident=inp.incident,
            alerts={a.fingerprint: a for a in kept},
            digest=joins.add_to_digest(None, counted),
            services=list(inp.incident.services),
            downstream=joins.capped([], inp.incident.downstream),
            duplicates=joins.capped([], inp.incident.duplicates),
        )

    # -- what people, the UI and the agents read ---------------------------------------------

    def current_incident(self) -> Incident:
        """The incident as it stands now: joined alerts, added services, the current origin."""
        return self.incident.model_copy(
            update={
                "alerts": list(self.alerts.values()),
                "services": self.services,
                "downstream": self.downstream,
                "duplicates": self.duplicates,
            }
        )

    def record(self) -> IncidentRecord:
        """Every artifact emitted so far, in order."""
        return IncidentRecord(
            incident=self.current_incident(),
            state=self.state,
            waiting_for=self.waiting_for,
            detections=self.inp.detections[: joins.MAX_DETAIL],
            investigation=self.investigation,
            plan=self.plan,
            approval=self.approval,
            results=self.results,
            verification=self.verification,
            postmortem=self.postmortem,
            timeline=self.timeline,
            decisions=self.decisions,
            owner=self.owner,
            paused=self.paused_by is not None,
            escalated=self.escalated,
            parked_stage=self.parked.value if self.parked else None,
            verifications=self.verifications,
            digest=self.digest,
            investigations=self.investigations,
            plans=self.plans,
            merged_into=self.merged_into,
        )

    def alert_count(self) -> int:
        """Every alert the incident holds: those in detail and those only counted."""
        return len(self.alerts) + (self.digest.alerts if self.digest else 0)

    def details(self) -> str:
        """The Temporal UI's current details: kept current, not as the incident opened."""
        inc = self.incident
        paused = f" (paused by {self.paused_by})" if self.paused_by else ""
        owner = f" · owner {self.owner}" if self.owner else ""
        escalated = " · escalated" if self.escalated else ""
        alerts = self.alert_count()
        return (
            f"**{self.state.value}**{paused}: waiting for {self.waiting_for}\n\n"
            f"{inc.severity.value} · {inc.origin_service or 'unknown service'} · {inc.title}"
            f"{owner}{escalated}\n\n{alerts} alert(s) · services {', '.join(self.services)}"
        )

    def search_attributes(self) -> dict[str, str]:
        """The values the UI searches by, as workflows/incident_start.py first sets them."""
        return {
            "state": self.state.value,
            "service": self.incident.origin_service or "unknown",
            "owner": self.owner or UNASSIGNED,
        }

    # -- where the run loop goes -------------------------------------------------------------

    def ended(self) -> bool:
        """Resolved by a person, withdrawn (alerts resolved) or merged away."""
        return (
            self.resolved_by is not None
            or self.withdrawn is not None
            or self.merged_into is not None
        )

    def wake(self) -> bool:
        """A person asked the run loop to leave the step it waits in."""
        return (
            self.ended()
            or Stage.INVESTIGATION in self.overrides
            or Stage.PLANNING in self.overrides
            or Stage.PLANNING in self.skips
            or Stage.EXECUTION in self.skips
        )

    def rewind(self) -> Stage:
        """Where the loop goes after a person's override, a skip or a change interrupted a wait."""
        if self.replan_reason or Stage.INVESTIGATION in self.overrides:
            return Stage.INVESTIGATION  # a re-investigation was called for, or a person's own
        if self.changes or Stage.PLANNING in self.overrides or Stage.PLANNING in self.skips:
            return Stage.PLANNING
        return Stage.EXECUTION

    def end_state(self) -> IncidentState:
        """Closed, or resolved when the alerts resolved on their own before any approval."""
        if self.merged_into is not None:
            return IncidentState.MERGED
        return IncidentState.RESOLVED if self.withdrawn is not None else IncidentState.CLOSED

    def take_override(self, stage: Stage) -> OverrideRequest | None:
        """A person's artifact for `stage`, used once."""
        override = self.overrides.pop(stage, None)
        if override is not None:
            self.event(
                TimelineKind.TAKEOVER, override.by, f"{stage.value}: using a person's artifact"
            )
        return override

    def take_skip(self, stage: Stage) -> bool:
        """True (once) when a person skipped `stage`."""
        skipped = stage in self.skips
        self.skips.discard(stage)
        return skipped

    def park(self, stage: Stage, why: str) -> None:
        """needs_attention until a person retries, skips, overrides or resolves (`unparked`)."""
        self.parked = stage
        self.event(TimelineKind.STATE, "system", f"needs attention: {why}")
        self.set_state(
            IncidentState.NEEDS_ATTENTION,
            f"a person to retry, skip or override {stage.value}, or resolve "
            f"(`incidentflow retry {self.incident.id} {stage.value}`)",
        )

    def unparked(self, stage: Stage) -> bool:
        return (
            stage in self.retries or stage in self.overrides or stage in self.skips or self.wake()
        )

    def leave_park(self, stage: Stage) -> None:
        self.retries.discard(stage)
        self.parked = None

    # -- recording ---------------------------------------------------------------------------

    def event(
        self, kind: TimelineKind, actor: str, summary: str, *, at: datetime | None = None
    ) -> TimelineEvent:
        event = TimelineEvent(at=at or self.now(), kind=kind, actor=actor, summary=summary)
        self.timeline.append(event)
        return event

    def set_state(self, state: IncidentState, waiting_for: str) -> None:
        changed = state is not self.state
        if changed:
            self.event(TimelineKind.STATE, "system", f"{self.state.value} -> {state.value}")
        self.state = state
        self.waiting_for = waiting_for
        if changed and state in NOTIFY_STATES:
            self.notify(NotificationKind.STATE_CHANGED, f"now {state.value}: {waiting_for}")

    def notify(self, kind: NotificationKind, detail: str) -> None:
        """Queue a message for the notifier loop (only when a notifier is configured)."""
        if not self.config.notify:
            return
        inc = self.incident
        plan = self.plan
        action = plan.action if plan else None
        pending = self.state is IncidentState.AWAITING_APPROVAL
        self.outbox.append(
            Notification(
                kind=kind,
                incident_id=inc.id,
                title=inc.title,
                severity=inc.severity.value,
                service=inc.origin_service,
                state=self.state.value,
                summary=(plan.rationale if plan else f"{self.alert_count()} alert(s)"),
                proposed_action=action.summary if action else None,
                risk=action.risk.value if action else None,
                undo=action.undo_summary if action else None,
                approve_command=(f"incidentflow approve {inc.id}" if pending and action else None),
                plan_id=(plan.id or None) if plan and action else None,
                plan_digest=plan.digest if plan and action else None,
                detail=detail,
            )
        )

    def record_intake(self) -> None:
        """The first lines of the timeline: where it came from, its alerts and detections."""
        came = self.inp.split_from
        if came is not None:
            self.event(
                TimelineKind.CORRELATION,
                came.by,
                f"split from {came.other_id} by {came.by}"
                + (f": {came.reason}" if came.reason else ""),
            )
        inc = self.incident
        for alert in joins.intake_alerts(inc.alerts):
            self.event(
                TimelineKind.ALERT,
                alert.source,
                f"{alert.status.value}: {alert.name} - {alert.summary}",
                at=alert.starts_at,
            )
        for det in self.inp.detections[: joins.LISTED_AT_INTAKE]:
            verdict = "noise" if det.noise else det.severity.value
            self.event(
                TimelineKind.DETECTION,
                "detection",
                f"{det.alert.name}: service={det.service or '?'} {verdict}"
                + (" flapping" if det.flapping else ""),
            )
        self.event(
            TimelineKind.CORRELATION,
            "correlation",
            f"opened {inc.id}: {len(inc.alerts)} alert(s), origin "
            f"{inc.origin_service or 'unknown'}, {len(inc.downstream)} downstream, "
            f"{len(inc.duplicates)} duplicate(s)",
        )

    def release_input(self) -> None:
        """Empty, in place, what the start input carried beyond what the state keeps.

        The SDK keeps a run's decoded input alive until the run ends (as for the stream:
        `stream_index.release_carried`), and an incident lives for hours. Its input holds the
        first round's alerts twice (`incident` and `correlation.new_incidents`) and every
        detection; measured with bench/memprobe.py, 1.35-2.9 MB per incident beyond its state.
        Call it after `record_intake`, the last reader; a replay decodes the input afresh.
        """
        inp = self.inp
        del inp.detections[joins.MAX_DETAIL :]
        for carried in (inp.incident.alerts, inp.incident.downstream, inp.incident.duplicates):
            carried.clear()
        for name in type(inp.correlation).model_fields:
            value = getattr(inp.correlation, name)
            if isinstance(value, (list, dict)):
                value.clear()

    def adopt_config(self, config: IncidentConfig) -> None:
        self.config = config
        self.config_ready = True

    def config_line(self) -> str:
        c = self.config
        return (
            f"configuration read again: approval window {c.approval_timeout_seconds} s, "
            f"settle {c.resolved_settle_seconds} s, re-plan debounce "
            f"{c.reinvestigate_debounce_seconds} s, notifier {'on' if c.notify else 'off'}"
        )

    # -- stages: investigation, plan, decision, action ---------------------------------------

    def investigated(self, result: Investigation) -> Investigation:
        top = result.top
        self.event(
            TimelineKind.INVESTIGATION,
            "investigation",
            f"root cause: {top.cause} (confidence {top.confidence:.2f}, "
            f"evidence {', '.join(top.evidence_ids)})"
            if top
            else f"no root cause found: {result.summary}",
        )
        return result

    def skipped_investigation(self) -> Investigation:
        return Investigation(
            incident_id=self.incident.id,
            hypotheses=[],
            rejected=[],
            evidence=[],
            summary="investigation skipped by a person",
        )

    def adopt_investigation(self, inv: Investigation) -> None:
        self.investigation = inv
        self.investigations.append(inv)

    def adopt_plan(self, plan: RemediationPlan) -> RemediationPlan:
        """Make `plan` the current version: numbered, digested, kept beside the earlier ones."""
        plan = plan.model_copy(
            update={
                "id": living.plan_id(self.incident.id, len(self.plans) + 1),
                "digest": plan_digest(plan.action),
                "reason": self.replan_reason,
            }
        )
        replaced = self.plan if self.plans else None
        self.plan = plan
        self.plans.append(plan)
        actor = "person" if plan.engine.value == "person" else "remediation"
        version = f"plan {plan.id}" + (f" replaces {replaced.id}" if replaced else "")
        if plan.action is None:
            self.event(TimelineKind.PLAN, actor, f"{version}: no action proposed: {plan.rationale}")
        else:
            self.event(
                TimelineKind.PLAN,
                actor,
                f"{version}: proposed {plan.action.summary} (risk {plan.action.risk.value}; "
                f"undo: {plan.action.undo_summary}; digest {(plan.digest or '')[:19]})",
            )
        if replaced is not None and self.asked:
            # The person asked about the old plan hears it was replaced before deciding.
            self.asked = False
            self.notify(
                NotificationKind.PLAN_CHANGED,
                f"{replaced.id} was replaced by {plan.id} ({self.replan_reason}); a decision "
                f"on {replaced.id} is refused",
            )
        self.replan_reason = ""
        return plan

    def decision_waiting(self) -> str:
        action = self.plan.action if self.plan else None
        summary = action.summary if action else "the plan"
        needed = self.config.policy.required(action.risk) if action else 1
        have = f" ({len(self.approvers)} of {needed} approvals)" if needed > 1 else ""
        window = self.config.approval_timeout_seconds
        return (
            f"a person to approve or reject: {summary}{have} (expires in {window // 60} min; "
            f"`incidentflow approve {self.incident.id}`)"
        )

    def ask(self) -> None:
        """Open the approval window on the current plan and tell people."""
        self.approval = None
        self.approvers = []
        window = self.config.approval_timeout_seconds
        self.set_state(IncidentState.AWAITING_APPROVAL, self.decision_waiting())
        self.notify(NotificationKind.DECISION_NEEDED, f"approval window: {window // 60} min")
        self.asked = True

    def expire(self) -> Approval:
        """Silence is never consent: the window passed, the plan ends, nothing executes."""
        window = self.config.approval_timeout_seconds
        expired = Approval(
            decision=Decision.EXPIRED,
            by="system",
            at=self.now(),
            reason=f"no decision within {window} s",
            approvers=list(self.approvers),
        )
        self.approval = expired
        self.decisions.append(expired)
        self.event(TimelineKind.DECISION, "system", f"expired: no decision within {window} s")
        # Escalate once: one expiry message, never a reminder loop.
        self.escalated = True
        self.notify(NotificationKind.EXPIRED, f"no decision within {window} s; escalating")
        return expired

    def keep_verification(self, verification: Verification) -> None:
        self.verification = verification
        self.verifications.append(verification)

    def end_merged(self) -> None:
        """A merged-away incident ends: its pending decision cancelled, nothing executed."""
        self.event(
            TimelineKind.STATE,
            "system",
            f"ended: merged into {self.merged_into}; its plan was cancelled and nothing of "
            "it will run",
        )
        self.set_state(IncidentState.MERGED, f"nothing: {self.merged_into} carries on")

    def finished(self, final: IncidentState, postmortem: PostMortem | None) -> None:
        if postmortem is not None:
            self.postmortem = postmortem
            self.event(TimelineKind.POSTMORTEM, "postmortem", "draft written")
        else:
            self.event(TimelineKind.POSTMORTEM, "postmortem", "post-mortem skipped")
        waiting = "a person to take over" if final is IncidentState.NEEDS_ATTENTION else "nothing"
        self.set_state(final, waiting)

    # -- a living investigation (workflows/living.py) ----------------------------------------

    def may_reinvestigate(self) -> bool:
        """Changes re-plan only before a decision, for agents' work, within the cap."""
        before = self.state in living.BEFORE_DECISION and self.approval is None
        # A person's investigation or plan is never replaced by an agent's.
        engines = [p.engine for p in self.plans[-1:]]
        engines += [self.investigation.engine] if self.investigation else []
        return (
            before
            and Engine.PERSON not in engines
            and self.merged_into is None
            and len(self.plans) <= living.MAX_REPLANS
        )

    def changed_since(self, seen: int) -> bool:
        return len(self.changes) != seen or self.wake() or self.approval is not None

    def replan(self) -> None:
        """The changes settled: the next investigation says why it runs."""
        why = living.summary(self.changes)
        self.changes.clear()
        self.replan_reason = why
        self.event(TimelineKind.INVESTIGATION, "system", f"investigating again: {why}")

    def join(self, update: IncidentUpdate) -> bool:
        """Alerts the stream joined after the incident opened; True when the origin moved."""
        changes = living.material_changes(
            update, alerts=self.alerts, services=self.services, origin=self.incident.origin_service
        )
        self.services += [s for s in update.services if s not in self.services]
        moved = bool(update.origin_service) and (
            update.origin_service != self.incident.origin_service
        )
        if moved:
            # A deeper failing dependency joined: correlation re-explained every alert.
            was, now = self.incident.origin_service, update.origin_service
            why = f"origin moved from {was} to {now}: {update.origin_reason}"
            self.event(TimelineKind.CORRELATION, "correlation", why)
            self.incident = self.incident.model_copy(update={"origin_service": now})
            self.downstream = joins.capped([], update.downstream)
        else:
            self.downstream = joins.capped(self.downstream, update.downstream)
        self.duplicates = joins.capped(self.duplicates, update.duplicates)
        for line in joins.duplicate_lines(update):
            self.event(TimelineKind.ALERT, "correlation", line)
        for line in joins.join_summaries(update, self.alerts):
            self.event(TimelineKind.ALERT, "correlation", line)
        kept, counted = joins.take_detail(self.alerts, update.alerts)
        self.alerts.update((alert.fingerprint, alert) for alert in kept)
        self.digest = joins.add_to_digest(self.digest, counted)
        if changes and self.may_reinvestigate():
            self.changes += changes
        return moved

    # -- alerts that resolve on their own before anything was approved -----------------------

    def alerts_clear(self) -> bool:
        return bool(self.alerts) and all(
            a.status is AlertStatus.RESOLVED for a in self.alerts.values()
        )

    def may_withdraw(self) -> bool:
        # Any final decision (approved, rejected, expired) settles the plan's fate already.
        late = (*ACTING, IncidentState.DRAFTING_POSTMORTEM)
        return not (
            self.approval is not None
            or self.state in late
            or self.state.terminal
            or self.resolved_by
            or self.merged_into
        )

    def withdraw(self, settle: int) -> None:
        self.withdrawn = (
            f"every alert ({len(self.alerts)}) resolved before an action was approved "
            f"and none fired again within {settle} s"
        )
        self.event(TimelineKind.PLAN, "system", f"plan withdrawn: {self.withdrawn}")

    def mark_resolved(self, msg: AlertsResolved) -> None:
        """The stream saw every alert of this incident resolve at its source."""
        if self.incident.resolved_at is None:
            self.incident = self.incident.model_copy(update={"resolved_at": msg.at})
            self.event(
                TimelineKind.ALERT,
                "correlation",
                f"all {len(msg.fingerprints)} alert(s) resolved at their source",
            )

    # -- merge and split (issue 3): each side records the move in its own timeline -----------

    def check_merge_into(self, msg: IncidentMoved) -> None:
        me = self.incident.id
        if msg.other_id == me:
            raise ValueError("an incident cannot be merged into itself")
        if self.merged_into is not None:
            if self.merged_into == msg.other_id:
                return  # the same merge again: answered with what it handed over
            raise ValueError(f"{me} was already merged into {self.merged_into}")
        if self.state in ACTING:
            raise ValueError(
                f"{me} is {self.state.value}: its action is under way and cannot be cancelled; "
                "merge once it is verified or undone"
            )
        if self.state.terminal or self.state is IncidentState.DRAFTING_POSTMORTEM:
            raise ValueError(f"{me} has ended ({self.state.value}); there is nothing to merge")

    def apply_merge_into(self, msg: IncidentMoved) -> IncidentMoved:
        """Hand over the alerts and services; asked again for the same target, the same answer."""
        if self.merged_into != msg.other_id:
            self.merged_into = msg.other_id
            self.event(
                TimelineKind.CORRELATION,
                msg.by,
                f"merged into {msg.other_id}" + (f": {msg.reason}" if msg.reason else ""),
            )
        return msg.model_copy(
            update={"alerts": list(self.alerts.values()), "services": list(self.services)}
        )

    def apply_absorb(self, msg: IncidentMoved) -> int:
        for alert in msg.alerts:
            self.alerts.setdefault(alert.fingerprint, alert)
        self.services += [s for s in msg.services if s not in self.services]
        verb = "merged in from" if msg.kind == "merged_from" else "split out of"
        self.event(
            TimelineKind.CORRELATION,
            msg.by,
            f"{len(msg.alerts)} alert(s) {verb} {msg.other_id}"
            + (f": {msg.reason}" if msg.reason else ""),
        )
        return len(self.alerts)

    def _split_done(self, req: SplitRequest) -> IncidentMoved | None:
        done = self.splits.get(split_key(req.fingerprints))
        if done is not None and not any(fp in self.alerts for fp in req.fingerprints):
            return done
        return None

    def check_split_out(self, req: SplitRequest) -> None:
        me = self.incident.id
        if req.into == me:
            raise ValueError(f"{me} cannot be split into itself")
        if self._split_done(req) is not None:
            return  # the same split again: answered with what it moved the first time
        unknown = [fp for fp in req.fingerprints if fp not in self.alerts]
        if unknown:
            raise ValueError(
                f"not alerts of {me}: {', '.join(unknown)}; its alerts' fingerprints are in "
                f"`incidentflow show {me} --json` (incident.alerts[].fingerprint)"
            )
        if set(self.alerts) <= set(req.fingerprints):
            raise ValueError(
                f"a split must leave at least one alert in {me}: name fewer --alert "
                "fingerprints (to move every alert elsewhere, use `incidentflow merge`)"
            )

    def apply_split_out(self, req: SplitRequest) -> IncidentMoved:
        """Move the alerts out; the same split asked again returns what it moved, recording
        nothing new, so the caller can finish opening the new incident after a crash."""
        done = self._split_done(req)
        if done is not None:
            return done
        moved = [self.alerts.pop(fp) for fp in dict.fromkeys(req.fingerprints) if fp in self.alerts]
        into = f" into {req.into}" if req.into else ""
        self.event(
            TimelineKind.CORRELATION,
            req.by,
            f"split {len(moved)} alert(s) out{into} ({', '.join(a.name for a in moved)})"
            + (f": {req.reason}" if req.reason else ""),
        )
        key = split_key(req.fingerprints)
        self.splits[key] = IncidentMoved(
            incident_id=self.incident.id,
            other_id=req.into,
            alerts=moved,
            by=req.by,
            reason=req.reason,
            kind="split_out",
        )
        return self.splits[key]
