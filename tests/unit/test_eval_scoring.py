"""The eval as an instrument: ranks against several acceptable services, grouping on fault
cases only, action match only where an action is accepted, controls apart, replay ticks, and
an alert that fires and resolves within one round still grouped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scenario_alerts import make_alert, run_correlation

from incidentflow.eval.isolation import MIN_SETTLE_S, case_overrides, worker_env
from incidentflow.eval.replay import delivery_time, replay_ticks
from incidentflow.eval.report import by_fault_type, disagreements, spread, totals
from incidentflow.eval.score import Observed, RankedHypothesis, score_case
from incidentflow.models import AlertStatus
from incidentflow.scenario import ExpectedAnswer, Scenario, load_scenario
from incidentflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "scenarios" / "shop-cart-bad-deploy"


def _hyps(*services: str, fault: str = "bad_deploy") -> list[RankedHypothesis]:
    return [RankedHypothesis(service=s, fault_type=fault) for s in services]


def _with_expected(scenario: Scenario, **changes: object) -> Scenario:
    assert scenario.expected is not None
    inc = scenario.expected.incidents[0]
    root = inc.root_cause.model_copy(update=changes.pop("root_cause", {}))  # type: ignore[arg-type]
    inc = inc.model_copy(update={"root_cause": root, **changes})
    return scenario.model_copy(update={"expected": ExpectedAnswer(incidents=[inc])})


def _fps(scenario: Scenario) -> list[str]:
    assert scenario.expected is not None
    return sorted(scenario.expected.incidents[0].fingerprints) or sorted(
        {str(a["fingerprint"]) for p in scenario.alert_payloads for a in p["alerts"]}
    )


def test_rank_counts_any_acceptable_service_and_gives_at_k_and_mrr() -> None:
    scenario = _with_expected(load_scenario(BUNDLE), root_cause={"also": ["cart-db"]})
    fps = _fps(scenario)
    seen = Observed(id="a", fingerprints=fps, hypotheses=_hyps("checkout", "auth", "cart-db"))
    case = score_case(scenario, [seen])
    assert [v.rank for v in case.expected] == [3]
    assert (case.rc_at_1, case.rc_at_3, case.rc_at_5) == ([False], [True], [True])
    total = totals([case])
    assert total["mrr"] == 1 / 3 and total["root_cause_at_3"] == 1.0
    # Further down than five is a miss at every k, and contributes 1/6 to MRR.
    deep = Observed(id="b", fingerprints=fps, hypotheses=_hyps("a", "b", "c", "d", "e", "cart"))
    far = score_case(scenario, [deep])
    assert far.rc_at_5 == [False] and totals([far])["mrr"] == 1 / 6


def test_action_match_counts_only_incidents_with_accepted_actions() -> None:
    bare = _with_expected(load_scenario(BUNDLE), accepted_actions=[])
    fps = _fps(bare)
    case = score_case(bare, [Observed(id="a", fingerprints=fps, hypotheses=_hyps("cart"))])
    assert case.action_ok == [] and case.expected[0].action_ok is None
    assert totals([case])["action_match"] is None and totals([case])["action_scored"] == 0


def test_controls_are_kept_out_of_grouping_precision() -> None:
    fault = load_scenario(BUNDLE)
    control = load_scenario(ROOT / "scenarios" / "control-bank-flapping")
    fps = _fps(fault)
    right = score_case(fault, [Observed(id="a", fingerprints=fps, hypotheses=_hyps("cart"))])
    every = sorted({str(a["fingerprint"]) for p in control.alert_payloads for a in p["alerts"]})
    noisy = score_case(control, [Observed(id="b", fingerprints=every, hypotheses=[])])
    total = totals([right, noisy])
    assert total["grouping"]["precision"] == 1.0
    assert total["incidents_opened_on_controls"] == 1
    assert total["control_pairs_grouped"] == noisy.pairs["predicted"] > 0


def test_a_case_without_grouping_truth_scores_root_cause_only() -> None:
    scenario = _with_expected(load_scenario(BUNDLE), grouping=False)
    fps = _fps(scenario)
    case = score_case(scenario, [Observed(id="a", fingerprints=fps[:1], hypotheses=_hyps("cart"))])
    assert case.precision is None and not case.grouping_scored
    assert case.rc_at_1 == [True]
    assert totals([case])["grouping"]["cases_scored"] == 0


def test_breakdown_by_the_data_sets_own_fault_label() -> None:
    scenario = _with_expected(load_scenario(BUNDLE), source_fault_type="return")
    fps = _fps(scenario)
    case = score_case(scenario, [Observed(id="a", fingerprints=fps, hypotheses=_hyps("x"))])
    assert by_fault_type(case.expected) == {
        "return": {
            "incidents": 1,
            "at_1": 0.0,
            "at_3": 0.0,
            "at_5": 0.0,
            "mrr": 0.0,
            "fault_type_accuracy": 1.0,
        }
    }


def test_repeats_report_spread_and_the_bundles_that_changed() -> None:
    scenario = load_scenario(BUNDLE)
    fps = _fps(scenario)
    a = score_case(scenario, [Observed(id="a", fingerprints=fps, hypotheses=_hyps("cart"))])
    b = score_case(scenario, [Observed(id="a", fingerprints=fps, hypotheses=_hyps("auth"))])
    s = spread([totals([a]), totals([b])])
    assert s["root_cause_at_1"] == {"min": 0.0, "mean": 0.5, "max": 1.0}
    assert disagreements([[a], [b]]) == [scenario.name]
    assert disagreements([[a], [a]]) == []


def test_replay_ticks_follow_recorded_time() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "control-bank-flapping")
    ticks = replay_ticks(scenario.alert_payloads)
    assert sum(len(t.payloads) for t in ticks) == len(scenario.alert_payloads)
    offsets = [t.offset_s for t in ticks]
    assert offsets[0] == 0 and offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    times = [delivery_time(p) for p in scenario.alert_payloads]
    assert all(times) and times[0] is not None
    # Never earlier than the delivery filed before it: the latest time ends the replay.
    assert offsets[-1] == (max(t for t in times if t) - times[0]).total_seconds() > 0
    # A resolved delivery is sent at its end, not its start.
    resolved = next(p for p in scenario.alert_payloads if p["alerts"][0]["status"] == "resolved")
    at = delivery_time(resolved)
    assert at is not None and at.isoformat()[:19] == resolved["alerts"][0]["endsAt"][:19]


def test_an_alert_that_fires_and_resolves_in_one_round_still_groups() -> None:
    labels = {"service": "payments", "severity": "critical"}
    fired = make_alert("PaymentsDown", labels=labels, fingerprint="fp-pay")
    resolved = fired.model_copy(update={"status": AlertStatus.RESOLVED})
    checkout = make_alert("CheckoutErrors", labels={"service": "checkout", "severity": "critical"})
    (incident,) = run_correlation([fired, checkout, resolved]).new_incidents
    assert {a.fingerprint for a in incident.alerts} == {"fp-pay", checkout.fingerprint}
    # Alone, an alert already over opens nothing.
    result = run_correlation([fired, resolved])
    assert not result.new_incidents
    assert any("resolved before any incident" in " ".join(d.reasons) for d in result.dropped)


def test_a_case_worker_gets_the_cases_settings_and_no_live_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTFLOW_PROMETHEUS_URL", "http://prometheus.example:9090")
    monkeypatch.setenv("INCIDENTFLOW_CATALOG_PATH", "/etc/catalog.yaml")
    base = Settings()
    overrides = case_overrides(base, BUNDLE, tmp_path, speed=30)
    env = worker_env(base.model_copy(update=overrides), overrides)
    assert "INCIDENTFLOW_PROMETHEUS_URL" not in env and "INCIDENTFLOW_CATALOG_PATH" not in env
    assert env["INCIDENTFLOW_EVIDENCE_BUNDLE"] == str(BUNDLE.resolve())
    assert env["INCIDENTFLOW_KUBECTL_CHANGES"] == "false"
    # What the worker process builds from that environment is what the case asked for.
    monkeypatch.setattr(os, "environ", env)
    seen = Settings()
    assert (
        seen.environment == overrides["environment"]
        and seen.sources.prometheus.prometheus_url is None
    )
    assert seen.ingest.settle_seconds == overrides["settle_seconds"] == MIN_SETTLE_S
