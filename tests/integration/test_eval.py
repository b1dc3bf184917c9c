"""`incidentflow eval` over a fault bundle and a control, through the real pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = [
    ROOT / "scenarios" / "shop-cart-bad-deploy",
    ROOT / "scenarios" / "control-shop-quiet-deploy",
]


@pytest.mark.timeout(240)
def test_eval_scores_bundles_through_the_real_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "eval", *map(str, BUNDLES), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=220,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "root cause service: @1" in proc.stdout
    doc = json.loads(out.read_text())
    cases = {c["bundle"]: c for c in doc["cases"]}
    fault, control = cases["shop-cart-bad-deploy"], cases["control-shop-quiet-deploy"]
    assert fault["error"] is None and control["error"] is None
    assert fault["incidents_opened"] == 1
    assert fault["pairs"]["expected"] == 3
    assert fault["rc_at_1"] == [True] and fault["action_ok"] == [True]
    assert fault["seconds_to_proposal"] and fault["seconds_to_proposal"][0] > 0
    assert control["control"] and control["incidents_opened"] == 0
    assert doc["total"]["incidents_opened_on_controls"] == 0


def test_eval_refuses_a_folder_without_bundles(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "eval", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "holds no scenario bundle" in proc.stderr and proc.stderr.count("\n") == 1
