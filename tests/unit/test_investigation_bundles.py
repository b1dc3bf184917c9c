"""The investigation rules engine over the generated scenario bundles, and its parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidentflow.agents.investigation.templates import mine
from incidentflow.eval import find_bundles
from incidentflow.eval.offline import run_offline
from incidentflow.eval.report import totals
from incidentflow.eval.score import Observed, RankedHypothesis, score_case
from incidentflow.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_bundles_cover_the_issue() -> None:
    scenarios = [load_scenario(p) for p in find_bundles([SCENARIOS])]
    assert len(scenarios) >= 12
    sizes = sorted({len(s.topology.services) for s in scenarios})
    assert sizes[0] >= 10 and sizes[-1] >= 30
    faults = {
        i.root_cause.fault_type for s in scenarios if s.expected for i in s.expected.incidents
    }
    assert len(faults) >= 7
    assert sum(1 for s in scenarios if s.expected and not s.expected.incidents) >= 2
    assert any(s.spans for s in scenarios) and any(s.runbooks for s in scenarios)


@pytest.mark.parametrize(
    "name",
    ["shop-cart-bad-deploy", "bank-ledger-db-network", "shop-payments-db-down"],
)
def test_engine_finds_the_root_cause_with_cited_evidence(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    observed, investigations = run_offline(scenario)
    case = score_case(scenario, observed)
    assert case.rc_at_1 == [True] and case.fault_type_ok == [True], case.detail
    inv = investigations[0]
    ids = {e.id for e in inv.evidence}
    top = inv.hypotheses[0]
    assert top.evidence_ids and set(top.evidence_ids) <= ids
    assert all(e.link for e in inv.evidence if e.id in top.evidence_ids and e.kind != "trace")
    assert len(inv.model_dump_json()) < 256 * 1024


def test_controls_open_no_incident_and_score_as_controls() -> None:
    for name in ("control-shop-quiet-deploy", "control-bank-flapping"):
        scenario = load_scenario(SCENARIOS / name)
        observed, _ = run_offline(scenario)
        case = score_case(scenario, observed)
        assert case.control and case.incidents_opened == 0


def test_network_fault_is_blamed_on_the_wire_not_the_slow_caller() -> None:
    _, [inv] = run_offline(load_scenario(SCENARIOS / "bank-ledger-db-network"))
    assert inv.hypotheses[0].service == "ledger-db"
    assert any(e.id == "ev-trace-ledger-to-ledger-db-gap" for e in inv.evidence)
    assert any(r.service == "ledger" and "ledger-db" in r.reason for r in inv.rejected)


def _hyp(service: str, fault_type: str) -> RankedHypothesis:
    return RankedHypothesis(service=service, fault_type=fault_type)


def test_scoring_counts_pairs_and_a_wrong_answer() -> None:
    scenario = load_scenario(SCENARIOS / "shop-cart-bad-deploy")
    fps = scenario.expected.incidents[0].fingerprints if scenario.expected else []
    split = [
        Observed(id="a", fingerprints=fps[:2], hypotheses=[_hyp("checkout", "code_exception")]),
        Observed(id="b", fingerprints=fps[2:], hypotheses=[_hyp("cart", "bad_deploy")]),
    ]
    case = score_case(scenario, split)
    assert case.pairs == {"predicted": 1, "expected": 3, "both": 1}
    assert case.precision == 1.0 and case.recall == pytest.approx(1 / 3)
    assert case.rc_at_1 == [False] and case.rc_at_3 == [False] and case.action_ok == [False]
    assert totals([case])["root_cause_at_1"] == 0.0


def test_templates_mask_variables_and_split_kinds() -> None:
    msgs = [
        "timeout calling payments after 2000 ms (request 0a1b2c3d4e)",
        "timeout calling payments after 2100 ms (request ffee001122)",
        "KeyError 'merchant_ref' in charge 17",
        "KeyError 'merchant_ref' in charge 18",
    ]
    templates = mine(msgs)
    assert [t.members for t in templates] == [[0, 1], [2, 3]]
    assert "<*>" in templates[0].text and "payments" in templates[0].text
