"""`incidentflow eval --engine llm` runs a bundle against whatever endpoint is configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FAKE_KEY, FAKE_MODEL, FakeOpenAI
from llm_scripts import analyst

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "scenarios" / "shop-cart-bad-deploy"


def run_eval(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")}
    return subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "eval", *args],
        capture_output=True,
        text=True,
        timeout=200,
        env={**clean, **env},
    )


@pytest.mark.timeout(240)
def test_eval_with_the_llm_engine_scores_and_accounts(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    with FakeOpenAI(analyst) as fake:
        env = {
            "INCIDENTFLOW_LLM_BASE_URL": fake.url,
            "INCIDENTFLOW_LLM_MODEL": FAKE_MODEL,
            "INCIDENTFLOW_LLM_API_KEY": FAKE_KEY,
        }
        proc = run_eval(env, str(BUNDLE), "--engine", "llm", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    (case,) = doc["cases"]
    assert case["error"] is None and case["rc_at_1"] == [True] and case["action_ok"] == [True]
    engines = doc["total"]["engines"]
    assert engines["answers"] == {"detection:llm": 1, "investigation:llm": 1, "plan:llm": 1}
    assert engines["fallbacks"] == 0 and engines["llm_calls"] == case["llm_calls"] >= 3
    assert engines["llm_tokens"] > 0
    assert "engines: detection:llm 1, investigation:llm 1, plan:llm 1" in proc.stdout
    assert {r.agent for r in fake.requests} >= {"detection", "investigation", "remediation"}
    assert FAKE_KEY not in proc.stdout + proc.stderr


def test_eval_with_the_llm_engine_needs_a_model() -> None:
    proc = run_eval({}, str(BUNDLE), "--engine", "llm")
    assert proc.returncode == 1
    assert "INCIDENTFLOW_LLM_MODEL" in proc.stderr and proc.stderr.count("\n") == 1
