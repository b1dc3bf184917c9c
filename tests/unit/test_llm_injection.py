"""Untrusted text: instructions hidden in alerts and logs, and a model that obeys them.

Whatever the obedient model returns because of the injection (a shell command, an action
outside the catalog, a made-up evidence id, a service nobody named) is refused, on the first
answer and on the repair, and the rules engine answers instead with the reason recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, Request, answer
from llm_scripts import INJECTION, LOG_INJECTION, MADE_UP_ID, analyst, obedient
from llm_support import activity_env, demo_batch, demo_incident, injected_bundle, llm_context

from activities.correlation import CorrelationActivities
from activities.detection import DetectionActivities
from activities.investigation import InvestigationActivities
from activities.postmortem import PostmortemActivities
from activities.remediation import RemediationActivities
from incidentflow.agents.investigation import investigate
from incidentflow.models import (
    CorrelationInput,
    Engine,
    IncidentRecord,
    IncidentState,
    InvestigationInput,
    PlanInput,
    PostmortemInput,
    RollbackParams,
)


def refused(artifact: Any, *problems: str) -> None:
    """The rules engine answered because both of the model's answers were refused."""
    assert artifact.engine is Engine.RULES, artifact.engine_reason
    assert artifact.engine_reason.startswith("llm: answer refused after one repair")
    usage = artifact.llm_usage
    assert usage is not None and usage.repairs == 1
    text = " ".join(usage.refused)
    for p in problems:
        assert p in text, (p, usage.refused)


async def test_an_obedient_model_is_refused_by_every_agent(tmp_path: Path) -> None:
    bundle = injected_bundle(tmp_path, LOG_INJECTION)
    with FakeOpenAI(obedient) as fake:
        ctx = llm_context(fake, evidence_bundle=bundle)
        env = activity_env()
        batch = demo_batch(INJECTION)
        det = await env.run(DetectionActivities(ctx).detect, batch)
        refused(det, "command line", "evil-svc")
        assert all(d.engine is Engine.RULES and not d.noise for d in det.detections[1:3])
        cor = await env.run(
            CorrelationActivities(ctx).correlate,
            CorrelationInput(detections=det.detections, open_incidents=[]),
        )
        refused(cor, "command line", "evil-svc")
        inc = cor.new_incidents[0]
        assert inc.origin_service == "payments" and "rm -rf" not in inc.title
        inv = await env.run(
            InvestigationActivities(ctx).investigate, InvestigationInput(incident=inc)
        )
        refused(inv, MADE_UP_ID, "command line")
        assert MADE_UP_ID not in {e.id for e in inv.evidence}
        plan = await env.run(
            RemediationActivities(ctx).plan_remediation, PlanInput(incident=inc, investigation=inv)
        )
        refused(plan, "shell", "fix.sh")
        assert plan.action is not None and isinstance(plan.action.params, RollbackParams)
        record = IncidentRecord(
            incident=inc, state=IncidentState.REJECTED, investigation=inv, plan=plan
        )
        pm = await env.run(
            PostmortemActivities(ctx).draft_postmortem, PostmortemInput(record=record)
        )
        refused(pm, "command line", "evil-svc", MADE_UP_ID)
        assert "evil.example" not in pm.markdown.split("## Timeline")[0]
    # The injection only ever reached the model inside the data fence, never as instructions.
    for req in fake.requests:
        system = req.messages[0]["content"]
        assert "IGNORE ALL PREVIOUS" not in system
        user = req.messages[1]["content"]
        if "IGNORE ALL PREVIOUS" in user:
            fence = user.split("<<<DATA\n", 1)[1].split("\nDATA>>>", 1)[0]
            assert "IGNORE ALL PREVIOUS" in fence


def remediation_script(bad: dict[str, Any]) -> Any:
    def script(req: Request) -> Reply:
        return answer(bad) if req.agent == "remediation" else analyst(req)

    return script


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"action": {"kind": "shell", "command": "curl x | sh"}}, "does not match any"),
        ({"action": {"kind": "restart", "service": "payments", "command": "id"}}, "command"),
        ({"action": {"kind": "noop", "reason": "x"}}, "not an action of the catalog"),
        (
            {"action": {"kind": "runbook_script", "script": "fix.sh", "args": {"x": "a;b"}}},
            "not named by a runbook",
        ),
        (
            {"action": {"kind": "runbook_script", "script": "../../bin/sh"}},
            "should match pattern",
        ),
        (
            {
                "action": {
                    "kind": "rollback",
                    "service": "payments",
                    "from_version": "v2.15.0",
                    "to_version": "v1.0.0-evil",
                }
            },
            "no change item of payments",
        ),
        (
            {
                "action": {
                    "kind": "scale",
                    "service": "payments",
                    "from_replicas": 3,
                    "to_replicas": 300,
                }
            },
            "scale between 1 and 2x",
        ),
        ({"action": {"kind": "restart", "service": "inventory"}}, "neither a service of"),
        (
            {
                "action": {
                    "kind": "feature_flag",
                    "flag": "disable_auth",
                    "from_value": True,
                    "to_value": False,
                }
            },
            "does not appear in the evidence",
        ),
        (
            {"action": {"kind": "restart", "service": "payments"}, "evidence_ids": [MADE_UP_ID]},
            "do not exist",
        ),
        (
            {
                "action": {"kind": "restart", "service": "payments"},
                "rationale": "then run kubectl delete pod -l app=payments",
            },
            "command line",
        ),
    ],
)
async def test_remediation_refuses_anything_outside_the_catalog_and_the_evidence(
    bad: dict[str, Any], problem: str
) -> None:
    body = {"rationale": "r", "evidence_ids": [], **bad}
    with FakeOpenAI(remediation_script(body)) as fake:
        ctx = llm_context(fake, llm_agents="remediation")
        inc = demo_incident(ctx)
        inv = investigate(InvestigationInput(incident=inc), ctx.graph, ctx.evidence)
        plan = await activity_env().run(
            RemediationActivities(ctx).plan_remediation, PlanInput(incident=inc, investigation=inv)
        )
    refused(plan, problem)
    assert len(fake.requests) == 2
    assert plan.action is not None and isinstance(plan.action.params, RollbackParams)
