"""The same bundle gives the same incidents and the same ranked answers every run: three
bundles, three runs each, through the real pipeline in recorded time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = [
    ROOT / "scenarios" / "bank-ledger-db-network",  # spans, a dependency several hops down
    ROOT / "scenarios" / "control-bank-flapping",  # fires, resolves and fires again
    ROOT / "scenarios" / "shop-catalog-traffic-surge",
]


def _answers(case: dict[str, object]) -> list[object]:
    observed = case["observed"]
    assert isinstance(observed, list)
    return sorted(
        (
            sorted(o["fingerprints"]),
            [(h["service"], h["fault_type"], h["confidence"]) for h in o["hypotheses"]],
            o["origin"],
            o["action"],
        )
        for o in observed
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_three_bundles_three_runs_give_the_same_incidents_and_ranked_answers(
    tmp_path: Path,
) -> None:
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "starter.py"),
            "eval",
            *map(str, BUNDLES),
            "--repeat",
            "3",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=580,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["changed_between_runs"] == [], proc.stdout[-3000:]
    assert len(doc["runs"]) == 3
    for key, spread in doc["spread"].items():
        assert spread["min"] == spread["max"], (key, spread)
    assert "over 3 runs" in proc.stdout
    # The comparison has teeth: the runs produced incidents with ranked answers.
    cases = {c["bundle"]: c for c in doc["cases"]}
    assert all(c["error"] is None for c in cases.values())
    ledger = _answers(cases["bank-ledger-db-network"])
    assert ledger and ledger[0][1], "no ranked hypotheses to compare"
    # Progress: cases done, the case running and time left, one line per step off a terminal.
    assert "run 3/3 [" in proc.stderr and "3/3 done" in proc.stderr
