"""Agents 3 to 5, investigation, remediation and post-mortem, driven over the demo incident."""

from __future__ import annotations

from datetime import timedelta

from scenario_alerts import (
    UNRELATED,
    EmptySource,
    batch_of,
    demo,
    demo_incident,
    demo_investigation,
    demo_plan,
    run_correlation,
    scenario_alerts,
)

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.agents.investigation import investigate
from incidentflow.agents.postmortem import DRAFT_MARKER, draft
from incidentflow.agents.remediation import plan
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.models import (
    CorrelationInput,
    EvidenceKind,
    FaultType,
    IncidentRecord,
    IncidentState,
    Investigation,
    InvestigationInput,
    PlanInput,
    Risk,
    RollbackParams,
    TimelineEvent,
    TimelineKind,
)
from incidentflow.scenario import load_scenario
from incidentflow.sources.bundle import BundleEvidenceSource

# --- investigation -------------------------------------------------------------------------


def test_demo_investigation_ranks_the_deploy_first() -> None:
    inv = demo_investigation()
    top = inv.top
    assert top is not None
    assert (top.service, top.fault_type, top.change_id) == (
        "payments",
        FaultType.BAD_DEPLOY,
        "chg-payments-2150",
    )
    assert top.confidence >= 0.8
    assert all(h.confidence <= top.confidence for h in inv.hypotheses)
    evidence = {e.id: e for e in inv.evidence}
    kinds = {evidence[i].kind for i in top.evidence_ids}
    assert {EvidenceKind.CHANGE, EvidenceKind.LOG, EvidenceKind.METRIC} <= kinds
    change = evidence["ev-change-chg-payments-2150"]
    assert change.attributes["before"] == "v2.14.0" and change.attributes["after"] == "v2.15.0"
    assert "ev-metric-payments-http_error_ratio" in top.evidence_ids
    assert "ev-log-payments-1" in top.evidence_ids
    assert "v2.15.0" in evidence["ev-log-payments-1"].finding
    assert evidence["ev-metric-payments-http_error_ratio"].link == (
        "bundle://demo-shop/metrics.json#payments_http_error_ratio"
    )
    assert all(e.source == "bundle" for e in inv.evidence)


def test_demo_investigation_rejects_distractors_and_symptoms() -> None:
    inv = demo_investigation()
    assert not any(h.service in {"catalog", "search"} for h in inv.hypotheses)
    # The symptom is weighed, not hidden: ranked last, at no confidence, saying why.
    assert inv.hypotheses[0].service == "payments"
    victim = next(h for h in inv.hypotheses if h.service == "checkout")
    assert victim.confidence == 0.0 and victim.cause.startswith("checkout fails because")
    assert "payments" in victim.why and "ranked after" in victim.why
    rejected = {(r.service, r.cause.split()[0]): r for r in inv.rejected}
    catalog = rejected[("catalog", "deploy")]
    assert "3h" in catalog.reason and "baseline" in catalog.reason
    assert "ev-change-chg-catalog-390" in catalog.evidence_ids
    assert "baseline" in rejected[("search", "config")].reason
    checkout = next(r for r in inv.rejected if r.service == "checkout")
    assert "dependency payments" in checkout.reason
    cited = {i for r in inv.rejected for i in r.evidence_ids}
    cited |= {i for h in inv.hypotheses for i in (*h.evidence_ids, *h.contradicting_ids)}
    assert cited <= {e.id for e in inv.evidence}


def test_investigation_is_deterministic_and_small() -> None:
    again = investigate(
        InvestigationInput(incident=demo_incident()), demo().topology, BundleEvidenceSource(demo())
    )
    assert again == demo_investigation()
    assert len(demo_investigation().model_dump_json()) < 256 * 1024


def test_investigation_replays_the_bundle_onto_a_live_incident() -> None:
    delta = timedelta(days=500, hours=3, seconds=7)
    live = run_correlation(scenario_alerts(demo().shifted(delta))).new_incidents[0]
    inv = investigate(
        InvestigationInput(incident=live), demo().topology, BundleEvidenceSource(demo())
    )
    assert inv.top is not None and inv.top.change_id == "chg-payments-2150"
    change = next(e for e in inv.evidence if e.id == "ev-change-chg-payments-2150")
    assert change.start == demo().changes[-1].at + delta


def test_investigation_without_telemetry_falls_back_to_the_origin() -> None:
    inv = investigate(InvestigationInput(incident=demo_incident()), demo().topology, EmptySource())
    assert inv.top is not None
    assert (inv.top.service, inv.top.fault_type) == ("payments", FaultType.UNKNOWN)
    assert inv.top.confidence < 0.5
    assert [e.kind for e in inv.evidence] == [EvidenceKind.TOPOLOGY]
    # Never a restart fallback: an unknown fault is escalated with no action (issue 18).
    nothing = plan(PlanInput(incident=demo_incident(), investigation=inv), demo().topology)
    assert nothing.action is None and nothing.alternatives == [] and nothing.escalate
    assert "too weak to act on" in nothing.rationale


# --- remediation ---------------------------------------------------------------------------


def test_demo_plan_rolls_payments_back_with_verify_and_undo() -> None:
    result = demo_plan()
    action = result.action
    assert action is not None
    assert action.params == RollbackParams(
        service="payments", from_version="v2.15.0", to_version="v2.14.0"
    )
    assert action.undo == RollbackParams(
        service="payments", from_version="v2.14.0", to_version="v2.15.0"
    )
    assert action.risk is Risk.MEDIUM and action.executor == "dry-run"
    assert action.verify.window_seconds == 600 and "resolve" in action.verify.description
    assert "v2.15.0" in action.undo_summary
    assert action.id.startswith("act-" + demo_incident().id.rsplit("-", 1)[-1] + "-1-")
    # A deploy is taken back; nothing in the evidence says a restart would help.
    assert result.alternatives == [] and not result.escalate
    assert "ev-change-chg-payments-2150" in result.evidence_ids
    assert "ev-change-chg-payments-2150" in result.rationale
    assert "kubectl" not in result.model_dump_json()
    assert (
        plan(
            PlanInput(incident=demo_incident(), investigation=demo_investigation()), demo().topology
        )
        == result
    )


def test_plan_without_a_hypothesis_has_no_action() -> None:
    empty = Investigation(
        incident_id=demo_incident().id, hypotheses=[], rejected=[], evidence=[], summary="none"
    )
    result = plan(PlanInput(incident=demo_incident(), investigation=empty), demo().topology)
    assert result.action is None and result.alternatives == []
    assert "no hypothesis to act on" in result.rationale and result.escalate


# --- post-mortem ---------------------------------------------------------------------------


def test_postmortem_lists_every_timeline_event_and_alert_in_order() -> None:
    incident = demo_incident()
    t0 = incident.opened_at
    timeline = [
        TimelineEvent(at=t0 + timedelta(minutes=n), kind=kind, actor=actor, summary=text)
        for n, kind, actor, text in [
            (3, TimelineKind.CORRELATION, "correlation", "incident opened from 5 alerts"),
            (4, TimelineKind.INVESTIGATION, "investigation", "top hypothesis: payments deploy"),
            (5, TimelineKind.PLAN, "remediation", "plan: roll payments back"),
            (5, TimelineKind.DECISION, "alice@example.com", "approved | looks right"),
            (9, TimelineKind.VERIFICATION, "system", "alerts resolved"),
        ]
    ]
    record = IncidentRecord(
        incident=incident,
        state=IncidentState.CLOSED,
        investigation=demo_investigation(),
        plan=demo_plan(),
        timeline=timeline,
    )
    pm = draft(record, demo().topology)
    md = pm.markdown
    assert pm.incident_id == incident.id and DRAFT_MARKER in md
    for heading in ["## Summary", "## Impact", "## Timeline", "## Root cause", "## Action items"]:
        assert heading in md
    section = md.split("## Timeline")[1].split("## Root cause")[0]
    rows = [e.summary.replace("|", "\\|") for e in timeline] + [a.name for a in incident.alerts]
    positions = [section.find(r) for r in rows]
    assert -1 not in positions
    assert positions[: len(timeline)] == sorted(positions[: len(timeline)])
    assert section.index("v2.15.0") < section.index("PaymentsHighErrorRate")  # deploy first
    assert "team-payments" in md.split("## Action items")[1]
    assert "Roll payments back from v2.15.0 to v2.14.0" in md
    assert draft(record, demo().topology) == pm


def test_demo_end_to_end_matches_the_expected_answer() -> None:
    """All five agents in a row, as the workflows chain them, graded by expected.yaml."""
    scenario = load_scenario(demo_scenario_path())
    expected = scenario.expected
    assert expected is not None
    graph = scenario.topology
    detections = detect(batch_of(scenario_alerts(scenario)), graph).detections
    result = correlate(CorrelationInput(detections=detections, open_incidents=[]), graph)
    (incident,) = result.new_incidents
    (want,) = expected.incidents
    assert incident.origin_service == want.origin_service
    assert sorted(a.name for a in incident.alerts) == sorted(want.alertnames)
    assert not set(expected.unrelated_alertnames) & {a.name for a in incident.alerts}
    assert UNRELATED in expected.unrelated_alertnames
    assert [d.fingerprint for d in incident.duplicates] == expected.duplicate_fingerprints
    inv = investigate(InvestigationInput(incident=incident), graph, BundleEvidenceSource(scenario))
    assert inv.top is not None
    assert (inv.top.service, inv.top.fault_type, inv.top.change_id) == (
        want.root_cause.service,
        want.root_cause.fault_type,
        want.root_cause.change_id,
    )
    remediation = plan(PlanInput(incident=incident, investigation=inv), graph)
    assert remediation.action is not None
    params = remediation.action.params
    assert isinstance(params, RollbackParams)
    assert any(
        a.kind == params.kind and a.service == params.service and a.to_version == params.to_version
        for a in want.accepted_actions
    )
    record = IncidentRecord(
        incident=incident,
        state=IncidentState.CLOSED,
        detections=detections,
        investigation=inv,
        plan=remediation,
    )
    pm = draft(record, graph)
    assert incident.id in pm.markdown and str(want.root_cause.change_id) in pm.markdown
