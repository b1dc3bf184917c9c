"""The incident workflow's state and rules as plain code, without a server.

The state (workflows/incident_state.py) and what people ask of it (workflows/incident_people.py)
run inside IncidentWorkflow as they run here; a fixed clock stands in for `workflow.now` and
each rule is driven directly: takeover checks and effects, who is believed
before and after the configuration is read, decisions and the approval policy, joins, merges,
splits, plan versions and the settle rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidentflow.catalog import CATALOG
from incidentflow.identity.admission import UNSIGNED_REFUSED
from incidentflow.models import (
    Alert,
    AlertStatus,
    CorrelationResult,
    Decision,
    DecisionRequest,
    DecisionTrust,
    Engine,
    Incident,
    IncidentConfig,
    IncidentInput,
    IncidentMoved,
    IncidentState,
    IncidentUpdate,
    NotificationKind,
    OverrideRequest,
    RemediationAction,
    RemediationPlan,
    Risk,
    Severity,
    SplitRequest,
    Stage,
    StageRequest,
    TakeoverRequest,
    TimelineKind,
    VerifySpec,
)
from incidentflow.models.remediation import RestartParams
from workflows import incident_people as people
from workflows import living
from workflows.incident_people import Refused
from workflows.incident_state import LiveIncident

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LOCAL = IncidentConfig(trust=DecisionTrust(allow_unsigned=True), notify=True)


def alert(fp: str, status: AlertStatus = AlertStatus.FIRING, service: str = "payments") -> Alert:
    return Alert(
        fingerprint=fp,
        source="alertmanager",
        name=f"Alert{fp}",
        status=status,
        labels={"service": service},
        starts_at=NOW,
    )


def opened(*fps: str, config: IncidentConfig | None = LOCAL) -> LiveIncident:
    """A new incident on payments with alerts `fps`; configured unless config is None."""
    incident = Incident(
        id="INC-1",
        environment="test",
        title="payments 5xx",
        severity=Severity.CRITICAL,
        origin_service="payments",
        services=["payments"],
        alerts=[alert(fp) for fp in fps or ("a",)],
        opened_at=NOW,
    )
    clock = iter(NOW + timedelta(seconds=i) for i in range(10_000))
    s = LiveIncident.begin(
        IncidentInput(
            incident=incident,
            detections=[],
            correlation=CorrelationResult(),
            stream_workflow_id="alerts-test",
        ),
        now=lambda: next(clock),
    )
    if config is not None:
        s.adopt_config(config)
    return s


def plan(risk: Risk = Risk.LOW, *, service: str = "payments") -> RemediationPlan:
    """A restart plan as the catalog describes it (a person's override must match it)."""
    params = RestartParams(service=service)
    summary, undo, undo_summary = CATALOG.describe(params)
    return RemediationPlan(
        incident_id="INC-1",
        action=RemediationAction(
            id="act-1",
            incident_id="INC-1",
            params=params,
            risk=risk,
            summary=summary,
            verify=VerifySpec(description="alerts resolve"),
            undo=undo,
            undo_summary=undo_summary,
        ),
        rationale="restart fixes it",
    )


def asked(s: LiveIncident, risk: Risk = Risk.LOW) -> RemediationPlan:
    """Investigated, planned and waiting for a decision on the plan it returns."""
    s.adopt_investigation(s.skipped_investigation())
    adopted = s.adopt_plan(plan(risk))
    s.ask()
    return adopted


def decision(by: str, current: RemediationPlan, reason: str = "") -> DecisionRequest:
    return DecisionRequest(by=by, reason=reason, plan_id=current.id, plan_digest=current.digest)


def take(s: LiveIncident, verb: str, req: TakeoverRequest, *, signal: bool = False) -> str:
    check = {
        "pause": people.check_pause,
        "resume": people.check_resume,
        "resolve": people.check_resolve,
    }[verb]
    apply = {
        "pause": people.apply_pause,
        "resume": people.apply_resume,
        "resolve": people.apply_resolve,
    }[verb]
    return people.takeover(s, verb, req, check, apply, signal=signal).summary


# -- who is believed: the configuration, not the default -----------------------------------


def test_before_the_configuration_the_default_refuses_unsigned_attempts() -> None:
    # Why the workflow holds a person's attempt until the configuration is in: judged
    # against the default, a local unsigned pause would be refused and recorded as refused.
    early = opened(config=None)
    assert not early.config_ready
    with pytest.raises(Refused, match="unsigned decision refused"):
        take(early, "pause", TakeoverRequest(by="erin"))
    assert early.paused_by is None
    assert [d.reason for d in early.decisions] == [f"pause refused: {UNSIGNED_REFUSED}"]
    configured = opened(config=None)
    configured.adopt_config(LOCAL)
    assert configured.config_ready
    assert take(configured, "pause", TakeoverRequest(by="Erin", text="look")) == "paused: look"
    assert configured.paused_by == "erin"  # the canonical identity, not as typed
    assert configured.decisions == []


# -- takeover: checks refuse, applies change the state ---------------------------------------


def test_pause_resume_and_their_refusals() -> None:
    s = opened()
    take(s, "pause", TakeoverRequest(by="erin"))
    with pytest.raises(ValueError, match="already paused by erin"):
        people.check_pause(s, TakeoverRequest(by="bob"))
    assert "(paused by erin)" in s.details()
    take(s, "resume", TakeoverRequest(by="erin", text="go"))
    assert s.paused_by is None
    with pytest.raises(ValueError, match="is not paused"):
        people.check_resume(s, TakeoverRequest(by="erin"))
    # A signal that fails its check is recorded with who tried, then refused.
    with pytest.raises(Refused):
        take(s, "resume", TakeoverRequest(by="bob"), signal=True)
    assert s.timeline[-1].summary == "refused resume signal: INC-1 is not paused"


def test_retry_only_the_parked_stage_and_skip_only_what_has_not_run() -> None:
    s = opened()
    with pytest.raises(ValueError, match="no stage is waiting"):
        people.check_retry(s, StageRequest(by="erin", stage=Stage.INVESTIGATION))
    s.park(Stage.INVESTIGATION, "investigation failed: boom")
    assert s.state is IncidentState.NEEDS_ATTENTION and s.record().parked_stage == "investigation"
    assert not s.unparked(Stage.INVESTIGATION)
    people.check_retry(s, StageRequest(by="erin", stage=Stage.INVESTIGATION))
    people.apply_retry(s, StageRequest(by="erin", stage=Stage.INVESTIGATION))
    assert s.unparked(Stage.INVESTIGATION)
    s.leave_park(Stage.INVESTIGATION)
    assert s.parked is None and not s.retries
    s.adopt_investigation(s.skipped_investigation())
    with pytest.raises(ValueError, match="investigation has already run"):
        people.check_skip(s, StageRequest(by="erin", stage=Stage.INVESTIGATION))
    people.check_skip(s, StageRequest(by="erin", stage=Stage.PLANNING))
    people.apply_skip(s, StageRequest(by="erin", stage=Stage.PLANNING))
    assert s.wake() and s.take_skip(Stage.PLANNING) and not s.take_skip(Stage.PLANNING)


def test_an_override_is_the_persons_and_wakes_the_loop() -> None:
    s = opened()
    asked(s)
    theirs = plan(service="checkout")
    assert theirs.action is not None
    mine = theirs.model_copy(update={"action": theirs.action.model_copy(update={"id": "act-mine"})})
    req = OverrideRequest(by="dana", stage=Stage.PLANNING, plan=mine, reason="checkout")
    people.check_override(s, req)
    people.apply_override(s, req)
    assert s.wake() and s.rewind() is Stage.PLANNING
    used = s.take_override(Stage.PLANNING)
    assert used is not None and used.plan is not None and used.plan.engine is Engine.PERSON
    assert s.timeline[-1].summary == "planning: using a person's artifact"
    s.set_state(IncidentState.EXECUTING, "the executor")
    with pytest.raises(ValueError, match="wait until the action is verified"):
        people.check_override(s, req)
    with pytest.raises(ValueError, match="execution has no artifact"):
        people.check_override(s, req.model_copy(update={"stage": Stage.EXECUTION}))


def test_assign_escalate_and_what_the_ui_shows() -> None:
    s = opened()
    assert s.search_attributes() == {"state": "open", "service": "payments", "owner": "unassigned"}
    with pytest.raises(ValueError, match="give an owner"):
        people.check_text(s, TakeoverRequest(by="erin", text="  "), "an owner")
    people.apply_assign(s, TakeoverRequest(by="erin", text=" team-payments "))
    assert s.search_attributes()["owner"] == "team-payments"
    people.apply_escalate(s, TakeoverRequest(by="erin", text="need db"))
    assert s.escalated and s.outbox[-1].kind is NotificationKind.ESCALATED
    assert "owner team-payments · escalated" in s.details()


# -- decisions: the pending plan, the policy, the audit ---------------------------------------


def test_a_decision_needs_a_pending_plan_and_a_rejection_a_reason() -> None:
    s = opened()
    with pytest.raises(ValueError, match="has no pending decision"):
        people.check_decidable(s, Decision.APPROVED, DecisionRequest(by="erin"))
    current = asked(s)
    assert current.id == "INC-1/plan-1" and current.digest
    with pytest.raises(ValueError, match="a rejection needs a reason"):
        people.check_decidable(s, Decision.REJECTED, decision("erin", current))
    done = people.decide(s, Decision.REJECTED, decision("erin", current, "by hand"), signal=False)
    assert done.decision is Decision.REJECTED and s.approval == done
    with pytest.raises(ValueError, match="was already rejected by erin"):
        people.check_decidable(s, Decision.APPROVED, decision("bob", current))


def test_high_risk_needs_two_different_people_and_every_attempt_is_audited() -> None:
    s = opened()
    current = asked(s, Risk.HIGH)
    first = people.decide(s, Decision.APPROVED, decision("erin", current), signal=False)
    assert first.approvers == ["erin"] and s.approval is None
    assert "(1 of 2 approvals)" in s.waiting_for
    with pytest.raises(Refused) as refused:
        people.decide(s, Decision.APPROVED, decision("erin", current), signal=False)
    assert refused.value.kind == "ApprovalRefused"
    final = people.decide(s, Decision.APPROVED, decision("bob", current), signal=False)
    assert final.approvers == ["erin", "bob"] and s.approval == final
    assert [d.decision for d in s.decisions] == [
        Decision.APPROVED,
        Decision.REFUSED,
        Decision.APPROVED,
    ]


def test_a_decision_signal_on_nothing_pending_is_recorded_as_refused() -> None:
    s = opened()
    with pytest.raises(Refused):
        people.decide(s, Decision.APPROVED, DecisionRequest(by="erin"), signal=True)
    assert s.decisions[-1].decision is Decision.REFUSED
    assert s.timeline[-1].kind is TimelineKind.DECISION
    assert "has no pending decision" in s.timeline[-1].summary


def test_a_decision_on_a_replaced_plan_is_refused_and_the_asker_is_told() -> None:
    s = opened()
    old = asked(s)
    s.replan_reason = "origin moved from payments to db"
    new = s.adopt_plan(plan(service="db"))
    assert new.id == "INC-1/plan-2" and new.reason == "origin moved from payments to db"
    assert s.outbox[-1].kind is NotificationKind.PLAN_CHANGED
    assert "INC-1/plan-1 was replaced by INC-1/plan-2" in s.outbox[-1].detail
    s.ask()
    with pytest.raises(Refused, match="is no longer current"):
        people.decide(s, Decision.APPROVED, decision("erin", old), signal=False)
    assert [p.id for p in s.record().plans] == ["INC-1/plan-1", "INC-1/plan-2"]


def test_the_window_passing_expires_the_plan_and_escalates_once() -> None:
    s = opened()
    asked(s)
    expired = s.expire()
    assert expired.decision is Decision.EXPIRED and s.escalated
    assert [n.kind for n in s.outbox].count(NotificationKind.EXPIRED) == 1


# -- the incident changes: joins, merges, splits, alerts resolving ----------------------------


def test_a_join_that_moves_the_origin_calls_for_a_new_plan_before_a_decision() -> None:
    s = opened("a")
    asked(s)
    moved = s.join(
        IncidentUpdate(
            incident_id="INC-1",
            alerts=[alert("b", service="db")],
            reasons=["db is deeper"],
            services=["db"],
            origin_service="db",
        )
    )
    assert moved and s.incident.origin_service == "db" and s.services == ["payments", "db"]
    assert s.search_attributes()["service"] == "db"
    assert s.changes[0] == "origin moved from payments to db"
    assert s.rewind() is Stage.PLANNING
    s.replan()
    assert s.rewind() is Stage.INVESTIGATION and s.changes == []
    # Once decided, a change is recorded but re-plans nothing.
    people.decide(s, Decision.APPROVED, decision("erin", s.plans[-1]), signal=False)
    s.join(IncidentUpdate(incident_id="INC-1", alerts=[alert("c")], reasons=[]))
    assert s.changes == [] and "c" in s.alerts


def test_no_more_than_max_replans() -> None:
    s = opened()
    s.adopt_investigation(s.skipped_investigation())
    for _ in range(living.MAX_REPLANS + 1):
        s.adopt_plan(plan())
    assert not s.may_reinvestigate()


def test_merge_is_idempotent_ends_the_incident_and_refuses_while_acting() -> None:
    s = opened("a", "b")
    asked(s)
    msg = IncidentMoved(incident_id="INC-1", other_id="INC-2", by="erin", kind="merged_into")
    with pytest.raises(ValueError, match="cannot be merged into itself"):
        s.check_merge_into(msg.model_copy(update={"other_id": "INC-1"}))
    handed = s.apply_merge_into(msg)
    again = s.apply_merge_into(msg)
    assert [a.fingerprint for a in handed.alerts] == ["a", "b"] and again == handed
    assert [e.summary for e in s.timeline].count("merged into INC-2") == 1
    assert s.ended() and s.end_state() is IncidentState.MERGED
    with pytest.raises(ValueError, match="decide on that incident"):
        people.check_decidable(s, Decision.APPROVED, DecisionRequest(by="erin"))
    with pytest.raises(ValueError, match="already merged into INC-2"):
        s.check_merge_into(msg.model_copy(update={"other_id": "INC-3"}))
    s.end_merged()
    assert s.state is IncidentState.MERGED
    busy = opened("a")
    busy.set_state(IncidentState.VERIFYING, "alerts")
    with pytest.raises(ValueError, match="its action is under way"):
        busy.check_merge_into(msg)


def test_split_moves_alerts_once_and_leaves_at_least_one() -> None:
    s = opened("a", "b", "c")
    req = SplitRequest(incident_id="INC-1", by="erin", fingerprints=["b", "c", "b"], into="INC-9")
    with pytest.raises(ValueError, match="not alerts of INC-1: z"):
        s.check_split_out(req.model_copy(update={"fingerprints": ["z"]}))
    with pytest.raises(ValueError, match="must leave at least one alert"):
        s.check_split_out(req.model_copy(update={"fingerprints": ["a", "b", "c"]}))
    s.check_split_out(req)
    moved = s.apply_split_out(req)
    assert [a.fingerprint for a in moved.alerts] == ["b", "c"] and list(s.alerts) == ["a"]
    s.check_split_out(req)  # the same split again is answered, not refused
    assert s.apply_split_out(req) == moved
    assert s.apply_absorb(moved.model_copy(update={"kind": "merged_from"})) == 3


def test_every_alert_resolved_withdraws_only_before_a_decision() -> None:
    s = opened("a")
    asked(s)
    assert not s.alerts_clear()
    s.join(
        IncidentUpdate(incident_id="INC-1", alerts=[alert("a", AlertStatus.RESOLVED)], reasons=[])
    )
    assert s.alerts_clear() and s.may_withdraw()
    s.withdraw(60)
    assert s.end_state() is IncidentState.RESOLVED
    assert s.timeline[-1].summary.startswith("plan withdrawn: every alert (1) resolved")
    decided = opened("a")
    current = asked(decided)
    people.decide(decided, Decision.APPROVED, decision("erin", current), signal=False)
    assert not decided.may_withdraw()


def test_the_record_holds_every_version_and_the_state_transitions() -> None:
    s = opened()
    s.record_intake()
    asked(s)
    s.set_state(IncidentState.EXECUTING, "the executor")
    record = s.record()
    assert record.state is IncidentState.EXECUTING
    assert record.timeline[0].summary.startswith("firing: Alerta")
    assert "awaiting_approval -> executing" in [e.summary for e in record.timeline]
    # Executing is a state people hear about; an unconfigured notifier hears nothing.
    assert s.outbox[-1].kind is NotificationKind.STATE_CHANGED
    quiet = opened(config=IncidentConfig())
    quiet.set_state(IncidentState.EXECUTING, "the executor")
    assert quiet.outbox == []


def test_the_start_input_is_emptied_once_intake_has_read_it() -> None:
    # The SDK holds a run's input until the run ends: whatever it carried beyond the state's own
    # references would live as long as the incident.
    s = opened("a", "b", "c")
    inp = s.inp
    s.record_intake()
    assert any("opened INC-1: 3 alert(s)" in e.summary for e in s.timeline)
    s.release_input()
    assert inp.incident.alerts == [] and inp.correlation.new_incidents == []
    record = s.record()
    assert sorted(a.fingerprint for a in record.incident.alerts) == ["a", "b", "c"]
    assert "3 alert(s)" in s.details()
