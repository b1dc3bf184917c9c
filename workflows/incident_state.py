"""One incident's state as a plain object: what the workflow holds, and every rule that changes it.

`LiveIncident` is everything IncidentWorkflow's run and handlers read and write: the incident as
it stands (alerts joined, services added, the current origin), every artifact and version, the
decisions audit, what people asked for (pause, overrides, skips, retries, resolve), and the
outbox of notifications. Its methods are pure: `check_*` raise ValueError (the update is
refused before it reaches history), `apply_*` change the state and return the timeline event,
and the bookkeeping of decisions, joins, merges and splits lives here too, so all of it is
unit-tested as plain code (tests/unit/test_incident_state_rules.py). The workflow
(workflows/incident.py) runs activities, waits, and publishes `details()` and
`search_attributes()` to the Temporal UI; this module does neither.

Why one file past 400 lines: the checks read what the applies write (a merge refuses while an
action runs; a retry needs the parked stage the run loop set; a decision needs the current
plan), so splitting the object would split one set of rules across files.

Deterministic module: no I/O, no randomness; the clock is the `now` the workflow passes in
(`workflow.now`), a fixed one in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from incidentflow.identity.admission import GUARDED_VERBS, Admission, Claimed, Pending, admit
from incidentflow.identity.signing import plan_digest
from incidentflow.models import (
    ActionResult,
    Alert,
    AlertDigest,
    AlertsResolved,
    AlertStatus,
    Approval,
    Decision,
    DecisionRequest,
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
    StageRequest,
    TakeoverRequest,
    TimelineEvent,
    TimelineKind,
    Verification,
)
from incidentflow.search import UNASSIGNED
from workflows import joins, living
from workflows.overrides import (
    investigation_problem,
    plan_problem,
    postmortem_problem,
    regenerated,
)

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


class Refused(Exception):
    """An attempt that was recorded (who tried, why refused) and then failed for the caller;
    `kind` is the error type the update answers with."""

    def __init__(self, why: str, *, kind: str) -> None:
        super().__init__(why)
        self.kind = kind


def _with(what: str, why: str) -> str:
    return f"{what}: {why}" if why.strip() else what


def split_key(fingerprints: list[str]) -> str:
    """One split's identity: its fingerprints, sorted and without repeats."""
    return ",".join(sorted(set(fingerprints)))


@dataclass
class LiveIncident:
    """The incident workflow's whole state; build it with `LiveIncident.open`."""

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
    def open(cls, inp: IncidentInput, *, now: Callable[[], datetime]) -> LiveIncident:
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

    def details(self) -> str:
        """The Temporal UI's current details: kept current, not as the incident opened."""
        inc = self.incident
        paused = f" (paused by {self.paused_by})" if self.paused_by else ""
        owner = f" · owner {self.owner}" if self.owner else ""
        escalated = " · escalated" if self.escalated else ""
        alerts = len(self.alerts) + (self.digest.alerts if self.digest else 0)
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
                summary=(plan.rationale if plan else f"{len(inc.alerts)} alert(s)"),
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

    # -- who is believed (incidentflow/identity/admission.py) --------------------------------

    def pending(self) -> Pending:
        plan = self.plan
        return Pending(
            incident_id=self.incident.id,
            service=self.incident.origin_service,
            plan_id=plan.id or None if plan else None,
            plan_digest=plan.digest if plan else None,
            now=self.now(),
        )

    def admit(self, verb: str, req: Claimed, *, signal: bool) -> Admission:
        """Judge one attempt against the configuration's trust; a used nonce is spent."""
        admission = admit(
            verb,
            req,
            signal=signal,
            pending=self.pending(),
            trust=self.config.trust,
            seen_nonces=self.nonces,
        )
        if admission.nonce is not None:
            self.nonces.add(admission.nonce)
        return admission

    def _audited(
        self, decision: Decision, admission: Admission, reason: str, approvers: list[str]
    ) -> Approval:
        return Approval(
            decision=decision,
            by=admission.by,
            at=self.now(),
            reason=reason,
            approvers=approvers,
            identity=admission.identity,
            authenticated=admission.authenticated,
            path=admission.path,
            plan_id=admission.plan_id,
            plan_digest=admission.plan_digest,
        )

    # -- decisions: approve and reject ---------------------------------------------------------

    def check_decidable(self, decision: Decision, req: DecisionRequest) -> None:
        if self.merged_into is not None:
            raise ValueError(
                f"{self.incident.id} was merged into {self.merged_into}; its plan was "
                "cancelled: decide on that incident"
            )
        if self.withdrawn is not None:
            raise ValueError(f"{self.incident.id}'s plan was withdrawn: {self.withdrawn}")
        if self.approval is not None:
            prev = self.approval
            raise ValueError(
                f"{self.incident.id} was already {prev.decision.value} by {prev.by} "
                f"at {prev.at:%Y-%m-%d %H:%M:%S} UTC"
            )
        if self.state is not IncidentState.AWAITING_APPROVAL:
            raise ValueError(
                f"{self.incident.id} has no pending decision (state: {self.state.value}); "
                f"it waits for {self.waiting_for}"
            )
        if decision is Decision.REJECTED and not req.reason.strip():
            raise ValueError("a rejection needs a reason (--reason TEXT)")

    def decide(self, decision: Decision, req: DecisionRequest, *, signal: bool) -> Approval:
        """One decision attempt: admitted, checked against the policy, recorded either way.

        Raises Refused (recorded first) when it does not count.
        """
        verb = "approve" if decision is Decision.APPROVED else "reject"
        # A signal is admitted first so that a refused one is recorded with who it was; an
        # update's check already ran as its validator and runs again after any wait.
        admitted = self.admit(verb, req, signal=True) if signal else None
        try:
            self.check_decidable(decision, req)
        except ValueError as err:
            if admitted is not None:
                self._refuse_decision(decision, admitted, str(err))
            raise Refused(str(err), kind="DecisionRefused") from None
        admission = admitted or self.admit(verb, req, signal=False)
        refusal = admission.refusal
        if refusal is None and decision is Decision.APPROVED:
            refusal = self._policy_refusal(admission)
        if refusal is not None:
            self._refuse_decision(decision, admission, refusal)
            kind = "ApprovalRefused" if decision is Decision.APPROVED else "RejectRefused"
            raise Refused(refusal, kind=kind)
        return self._decided(decision, req, admission)

    def _policy_refusal(self, admission: Admission) -> str | None:
        action = self.plan.action if self.plan else None
        if action is None:
            return None
        return self.config.policy.refusal(admission.by, action.risk, self.approvers)

    def _refuse_decision(self, decision: Decision, admission: Admission, why: str) -> None:
        verb = "approval" if decision is Decision.APPROVED else "rejection"
        self.decisions.append(
            self._audited(Decision.REFUSED, admission, f"{verb} refused: {why}", [])
        )
        self.event(TimelineKind.DECISION, admission.by, f"{verb} refused: {why}")

    def _decided(self, decision: Decision, req: DecisionRequest, admission: Admission) -> Approval:
        why = f": {req.reason}" if req.reason else ""
        by = admission.by
        if decision is Decision.APPROVED:
            self.approvers.append(by)
            action = self.plan.action if self.plan else None
            needed = self.config.policy.required(action.risk) if action else 1
            if len(self.approvers) < needed:
                partial = self._audited(decision, admission, req.reason, list(self.approvers))
                self.decisions.append(partial)
                self.event(
                    TimelineKind.DECISION,
                    by,
                    f"approval {len(self.approvers)} of {needed}{why}; waiting for "
                    f"{needed - len(self.approvers)} more different approver(s)",
                )
                self.set_state(IncidentState.AWAITING_APPROVAL, self.decision_waiting())
                return partial
        final = self._audited(decision, admission, req.reason, list(self.approvers))
        self.approval = final
        self.decisions.append(final)
        self.event(TimelineKind.DECISION, by, f"{decision.value}{why}")
        return final

    def refuse_malformed(self, name: str, why: str, *, decision: bool) -> None:
        """A signal whose input did not decode: recorded with the reason."""
        kind = TimelineKind.DECISION if decision else TimelineKind.TAKEOVER
        self.event(kind, "unknown", f"malformed {name} signal: {why}")

    # -- takeover: a person takes the wheel (workflows/incident.py has the handlers) ---------

    def takeover(
        self,
        verb: str,
        req: R,
        check: Callable[[R], None],
        apply: Callable[[R], TimelineEvent],
        *,
        signal: bool,
    ) -> TimelineEvent:
        """One takeover attempt; the verbs that change what runs are believed only when signed.

        Raises Refused (recorded first) when it does not count. An update's `check` already
        ran as its validator; it runs again here because the attempt may have waited for the
        configuration, and a signal cannot be refused before it reaches history.
        """
        try:
            check(req)
        except ValueError as err:
            if signal:
                self.event(TimelineKind.TAKEOVER, req.by, f"refused {verb} signal: {err}")
            raise Refused(str(err), kind="TakeoverRefused") from None
        if verb not in GUARDED_VERBS:
            return apply(req)
        admission = self.admit(verb, req, signal=signal)
        if admission.refusal is not None:
            why = f"{verb} refused: {admission.refusal}"
            self.decisions.append(
                Approval(
                    decision=Decision.REFUSED,
                    by=admission.by,
                    at=self.now(),
                    reason=why,
                    identity=admission.identity,
                    authenticated=admission.authenticated,
                    path=admission.path,
                )
            )
            self.event(TimelineKind.TAKEOVER, admission.by, why)
            raise Refused(admission.refusal, kind="TakeoverRefused")
        return apply(req.model_copy(update={"by": admission.by}))

    def check_not_ended(self) -> None:
        if self.merged_into is not None:
            raise ValueError(
                f"{self.incident.id} was merged into {self.merged_into}; act on that one"
            )
        if self.state.terminal or self.state is IncidentState.DRAFTING_POSTMORTEM:
            raise ValueError(
                f"{self.incident.id} is {self.state.value}; there is nothing left to take over"
            )

    def check_text(self, req: TakeoverRequest, what: str) -> None:
        self.check_not_ended()
        if not req.text.strip():
            raise ValueError(f"give {what}")

    def check_pause(self, req: TakeoverRequest) -> None:
        self.check_not_ended()
        if self.paused_by is not None:
            raise ValueError(f"{self.incident.id} is already paused by {self.paused_by}")

    def check_resume(self, req: TakeoverRequest) -> None:
        if self.paused_by is None:
            raise ValueError(f"{self.incident.id} is not paused")

    def check_resolve(self, req: TakeoverRequest) -> None:
        self.check_not_ended()
        if self.resolved_by is not None:
            raise ValueError(f"{self.incident.id} was already resolved by {self.resolved_by}")

    def check_retry(self, req: StageRequest) -> None:
        self.check_not_ended()
        if self.parked is not req.stage:
            where = self.parked.value if self.parked else "no stage"
            raise ValueError(f"only a failed stage can be retried; {where} is waiting for one")
        if req.stage is Stage.EXECUTION and not self.execution_failed:
            raise ValueError(
                "the action already ran and was undone; override the plan or resolve instead"
            )

    def check_skip(self, req: StageRequest) -> None:
        self.check_not_ended()
        if self.parked is req.stage:
            return
        done = {
            Stage.INVESTIGATION: self.investigation is not None,
            Stage.PLANNING: self.plan is not None,
            Stage.EXECUTION: self.state in ACTING or self.parked is not None,
            Stage.POSTMORTEM: self.postmortem is not None,
        }[req.stage]
        if done:
            raise ValueError(f"{req.stage.value} has already run; it can no longer be skipped")

    def check_override(self, req: OverrideRequest) -> None:
        self.check_not_ended()
        inc = self.incident.id
        if req.stage is Stage.EXECUTION:
            raise ValueError("execution has no artifact to override: override the plan instead")
        if self.state in ACTING and req.stage is not Stage.POSTMORTEM:
            raise ValueError(f"{inc} is {self.state.value}; wait until the action is verified")
        if req.stage is Stage.INVESTIGATION:
            problem = investigation_problem(req.investigation, inc)
        elif req.stage is Stage.PLANNING:
            problem = plan_problem(regenerated(req.plan), inc, self.plan)
        else:
            problem = postmortem_problem(req.postmortem, inc, self.postmortem)
        if problem is not None:
            raise ValueError(problem)

    def apply_pause(self, req: TakeoverRequest) -> TimelineEvent:
        self.paused_by = req.by
        return self.event(TimelineKind.TAKEOVER, req.by, _with("paused", req.text))

    def apply_resume(self, req: TakeoverRequest) -> TimelineEvent:
        self.paused_by = None
        return self.event(TimelineKind.TAKEOVER, req.by, _with("resumed", req.text))

    def apply_override(self, req: OverrideRequest) -> TimelineEvent:
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
        self.overrides[req.stage] = req
        return self.event(
            TimelineKind.TAKEOVER, req.by, _with(f"override of {req.stage.value}", req.reason)
        )

    def apply_retry(self, req: StageRequest) -> TimelineEvent:
        self.retries.add(req.stage)
        return self.event(
            TimelineKind.TAKEOVER, req.by, _with(f"retry {req.stage.value}", req.reason)
        )

    def apply_skip(self, req: StageRequest) -> TimelineEvent:
        self.skips.add(req.stage)
        return self.event(
            TimelineKind.TAKEOVER, req.by, _with(f"skip {req.stage.value}", req.reason)
        )

    def apply_assign(self, req: TakeoverRequest) -> TimelineEvent:
        self.owner = req.text.strip()
        return self.event(TimelineKind.TAKEOVER, req.by, f"assigned to {self.owner}")

    def apply_note(self, req: TakeoverRequest) -> TimelineEvent:
        return self.event(TimelineKind.NOTE, req.by, req.text.strip())

    def apply_escalate(self, req: TakeoverRequest) -> TimelineEvent:
        self.escalated = True
        event = self.event(TimelineKind.TAKEOVER, req.by, _with("escalated", req.text))
        self.notify(NotificationKind.ESCALATED, f"escalated by {req.by}: {req.text or '-'}")
        return event

    def apply_resolve(self, req: TakeoverRequest) -> TimelineEvent:
        self.resolved_by = req.by
        return self.event(TimelineKind.TAKEOVER, req.by, _with("resolved", req.text))
