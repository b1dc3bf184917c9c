"""Each agent's activity with the LLM engine on, against the fake: answers, repair, fallback."""

from __future__ import annotations

from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, Request, answer, call_tools, fail
from llm_scripts import analyst
from llm_support import activity_env, demo_batch, demo_incident, llm_context
from temporalio.exceptions import ApplicationError

from activities.correlation import CorrelationActivities
from activities.detection import DetectionActivities
from activities.investigation import InvestigationActivities
from activities.postmortem import PostmortemActivities
from activities.remediation import RemediationActivities
from incidentflow.llm.accounting import incident_usage
from incidentflow.models import (
    CorrelationInput,
    Engine,
    IncidentRecord,
    IncidentState,
    Investigation,
    InvestigationInput,
    PlanInput,
    PostmortemInput,
    RollbackParams,
)


async def test_every_agent_answers_with_the_model_and_records_usage() -> None:
    with FakeOpenAI(analyst) as fake:
        ctx = llm_context(fake)
        env = activity_env()
        det = await env.run(DetectionActivities(ctx).detect, demo_batch())
        cor = await env.run(
            CorrelationActivities(ctx).correlate,
            CorrelationInput(detections=det.detections, open_incidents=[]),
        )
        inc = cor.new_incidents[0]
        inv = await env.run(
            InvestigationActivities(ctx).investigate, InvestigationInput(incident=inc)
        )
        plan = await env.run(
            RemediationActivities(ctx).plan_remediation, PlanInput(incident=inc, investigation=inv)
        )
        record = IncidentRecord(
            incident=inc,
            state=IncidentState.REJECTED,
            detections=det.detections,
            investigation=inv,
            plan=plan,
        )
        pm = await env.run(
            PostmortemActivities(ctx).draft_postmortem, PostmortemInput(record=record)
        )
    for artifact in (det, cor, inv, plan, pm):
        assert artifact.engine is Engine.LLM and artifact.engine_reason == ""
        assert artifact.llm_usage is not None and artifact.llm_usage.calls >= 1
        assert artifact.llm_usage.prompt_tokens > 0 and artifact.llm_usage.model == "fake-model"
    assert all(d.engine is Engine.LLM and d.reasons[-1].startswith("llm: ") for d in det.detections)
    assert inc.title.startswith("payments failing") and inc.origin_service == "payments"
    # Investigation: every cited id is an item its own tool calls produced.
    assert inv.top is not None and inv.top.service == "payments"
    ids = {e.id for e in inv.evidence}
    assert set(inv.top.evidence_ids) <= ids and inv.top.change_id == "chg-payments-2150"
    assert all(e.attributes["tool_call"] for e in inv.evidence)
    assert inv.llm_usage is not None and inv.llm_usage.tool_calls == 3
    # Remediation: the model's rollback, with risk, undo and verification from the catalog.
    assert plan.action is not None and isinstance(plan.action.params, RollbackParams)
    assert plan.action.params.to_version == "v2.14.0" and plan.action.risk.value == "medium"
    assert isinstance(plan.action.undo, RollbackParams) and plan.action.undo.to_version == "v2.15.0"
    assert "the model's summary of" in pm.markdown and "## Timeline" in pm.markdown
    assert pm.action_items[-1].owner == "team-payments"
    usage = incident_usage(record.model_copy(update={"postmortem": pm}))
    assert usage["total"].calls == sum(
        u.calls for u in (inv.llm_usage, plan.llm_usage, pm.llm_usage) if u
    )
    assert {r.agent for r in fake.requests} == {
        "detection",
        "correlation",
        "investigation",
        "remediation",
        "postmortem",
    }


async def investigate(
    script: Any, attempt: int = 1, heartbeats: list[Any] | None = None, **settings: Any
) -> tuple[Investigation, FakeOpenAI]:
    with FakeOpenAI(script) as fake:
        ctx = llm_context(fake, **settings)
        env = activity_env(attempt)
        if heartbeats is not None:
            env.on_heartbeat = lambda *d: heartbeats.append(d)
        inc = demo_incident(ctx)
        inv = await env.run(
            InvestigationActivities(ctx).investigate, InvestigationInput(incident=inc)
        )
    return inv, fake


async def test_tool_calls_are_bounded_heartbeat_and_become_evidence() -> None:
    def greedy(req: Request) -> Reply:
        if len(req.tool_results) < 4:
            return call_tools(
                ("list_changes", {"service": "payments"}),
                ("read_topology", {"service": "payments"}),
                ("read_runbook", {"service": "no-such-service"}),
            )
        return analyst(req)

    beats: list[Any] = []
    inv, fake = await investigate(greedy, heartbeats=beats, llm_tool_steps=4)
    assert inv.engine is Engine.LLM and inv.llm_usage is not None
    assert inv.llm_usage.tool_calls == 4  # the budget, though the model asked for six
    tools = [m for r in fake.requests for m in r.messages if m["role"] == "tool"]
    assert any("refused" in m["content"] and "no-such-service" in m["content"] for m in tools)
    assert any("no tool calls are left" in m["content"] for m in tools)
    assert fake.requests[-1].body["tool_choice"] == "none"
    assert {e.kind.value for e in inv.evidence} >= {"change", "topology"}
    assert any("llm tool list_changes(payments)" in str(b) for b in beats)


async def test_without_tool_calls_the_model_reasons_over_the_rules_evidence() -> None:
    inv, fake = await investigate(analyst, llm_tool_steps=0)
    assert inv.engine is Engine.LLM and inv.top is not None
    assert inv.top.change_id == "chg-payments-2150"
    assert inv.llm_usage is not None and inv.llm_usage.calls == 1 and inv.llm_usage.tool_calls == 0
    assert "tools" not in fake.requests[0].body
    assert "already read for this incident" in fake.requests[0].messages[0]["content"]
    assert set(inv.top.evidence_ids) <= {e.id for e in inv.evidence}


async def test_an_invalid_answer_gets_one_repair() -> None:
    def sloppy(req: Request) -> Reply:
        good = analyst(req)
        if req.tool_results and not req.repairing:
            return answer(
                {
                    "hypotheses": [
                        {
                            "cause": "payments",
                            "service": "payments",
                            "fault_type": "bad_deploy",
                            "confidence": 0.9,
                            "evidence_ids": ["ev-made-up"],
                        }
                    ],
                    "summary": "s",
                }
            )
        return good

    inv, fake = await investigate(sloppy)
    assert inv.engine is Engine.LLM and inv.llm_usage is not None
    assert inv.llm_usage.repairs == 1
    assert any("ev-made-up" in p for p in inv.llm_usage.refused)
    assert "ev-made-up" in fake.requests[-1].messages[-1]["content"]


async def test_twice_invalid_means_the_rules_engine_answers_and_says_why() -> None:
    def wrong(req: Request) -> Reply:
        if not req.tool_results:
            return analyst(req)
        return answer({"hypotheses": [], "rejected": [], "summary": "run `rm -rf /tmp/x`"})

    inv, _ = await investigate(wrong)
    assert inv.engine is Engine.RULES and inv.top is not None and inv.top.service == "payments"
    assert inv.engine_reason.startswith("llm: answer refused after one repair")
    assert "command line" in inv.engine_reason
    assert inv.llm_usage is not None and inv.llm_usage.calls == 3 and inv.llm_usage.repairs == 1


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_unavailable_is_retried_by_temporal_then_rules_answer(status: int) -> None:
    with pytest.raises(ApplicationError) as raised:
        await investigate(lambda r: fail(status, "busy", retry_after="4"))
    assert not raised.value.non_retryable and raised.value.type == "LlmUnavailable"
    if status == 429:
        assert raised.value.next_retry_delay is not None
        assert raised.value.next_retry_delay.total_seconds() == 4
    inv, fake = await investigate(lambda r: fail(status), attempt=3)
    assert inv.engine is Engine.RULES and "unavailable on 3 attempt" in inv.engine_reason
    assert len(fake.requests) == 1


async def test_a_wrong_key_parks_incident_agents_but_the_stream_falls_back() -> None:
    with pytest.raises(ApplicationError, match="INCIDENTFLOW_LLM_API_KEY") as raised:
        await investigate(analyst, llm_api_key="sk-wrong-0123456789")
    assert raised.value.non_retryable
    with FakeOpenAI(analyst) as fake:
        ctx = llm_context(fake, llm_api_key="sk-wrong-0123456789")
        det = await activity_env().run(DetectionActivities(ctx).detect, demo_batch())
    assert det.engine is Engine.RULES and "INCIDENTFLOW_LLM_API_KEY" in det.engine_reason


async def test_context_is_cut_to_the_budget_and_redacted_before_it_leaves() -> None:
    secret = "reach bob@example.com at 10.1.2.3, password=hunter2hunter2 " + "x" * 3000
    with FakeOpenAI(analyst) as fake:
        ctx = llm_context(fake, llm_agents="detection", llm_context_tokens=1000)
        det = await activity_env().run(DetectionActivities(ctx).detect, demo_batch(secret))
    sent = fake.requests[0].text()
    for leaked in ("bob@example.com", "10.1.2.3", "hunter2hunter2"):
        assert leaked not in sent
    assert "[redacted:email]" in sent and "cut to fit the context budget" in sent
    assert det.llm_usage is not None and det.llm_usage.truncated
    assert len(sent) < 1000 * 4 + 4000  # data within budget, plus the fixed instructions
    cut = [d for d in det.detections if "not in the model's context" in d.reasons[-1]]
    assert cut and all(d.engine is Engine.RULES for d in cut)
    assert any(d.engine is Engine.LLM for d in det.detections)


async def test_model_text_cannot_add_headings_or_html_to_the_postmortem() -> None:
    def writer(req: Request) -> Reply:
        return answer(
            {
                "summary": "# Owned\n<script>alert(1)</script>",
                "root_cause": "x",
                "action_items": [{"text": "a | b", "service": "payments"}],
            }
        )

    with FakeOpenAI(writer) as fake:
        ctx = llm_context(fake, llm_agents="postmortem")
        record = IncidentRecord(incident=demo_incident(ctx), state=IncidentState.REJECTED)
        pm = await activity_env().run(
            PostmortemActivities(ctx).draft_postmortem, PostmortemInput(record=record)
        )
    assert pm.engine is Engine.LLM
    assert "\n# Owned" not in pm.markdown and "\\# Owned" in pm.markdown
    assert "<script>" not in pm.markdown and "&lt;script&gt;" in pm.markdown
    assert "| a \\| b |" in pm.markdown


async def test_a_storm_batch_is_cut_to_the_verdicts_one_answer_can_hold() -> None:
    with FakeOpenAI(analyst) as fake:
        ctx = llm_context(fake, llm_agents="detection", llm_max_output_tokens=240)
        det = await activity_env().run(DetectionActivities(ctx).detect, demo_batch())
    sent = fake.requests[0].data["alerts"]
    assert len(sent) == 3  # 240 output tokens at about 80 per verdict
    assert det.llm_usage is not None
    assert any("kept the first 3 of 6" in t for t in det.llm_usage.truncated)
    by_engine = {d.alert.fingerprint: d.engine for d in det.detections}
    assert {by_engine[a["fingerprint"]] for a in sent} == {Engine.LLM}
    assert sum(e is Engine.RULES for e in by_engine.values()) == 3


async def test_the_model_reads_the_rules_rankings_and_anomaly_scores() -> None:
    def ranker(req: Request) -> Reply:
        if not req.tool_results:
            return call_tools(
                ("rank_services", {"service": "payments"}),
                ("query_metrics", {"service": "payments"}),
                ("query_traces", {"service": "payments"}),
            )
        return analyst(req)

    inv, fake = await investigate(ranker, llm_tool_steps=4)
    tools = [m["content"] for r in fake.requests for m in r.messages if m["role"] == "tool"]
    ranking = next(t for t in tools if "ev-rank-payments" in t)
    assert "rank_share" in ranking and "anomaly" in ranking and "rank 1: payments" in ranking
    metrics = next(t for t in tools if ":query_metrics" in t)
    assert '"status":"anomalous"' in metrics and "IQR" in metrics
    assert inv.engine is Engine.LLM and inv.top is not None
    assert {"ev-rank-payments"} <= {e.id for e in inv.evidence}
