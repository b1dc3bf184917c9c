"""The whole pipeline with the LLM engines on: webhook, stream, incident, five agents, against
the loopback OpenAI server; Temporal retries a 503; a wrong key parks the incident; a model
that obeys instructions hidden in an alert and a log line is refused everywhere."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, app_stack, make_settings
from fake_openai import FAKE_KEY, FakeOpenAI, Reply, Request, Script, fail
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from llm_scripts import INJECTION, LOG_INJECTION, MADE_UP_ID, analyst, obedient
from llm_support import injected_bundle, llm_values

from incidentflow.client import IncidentClient
from incidentflow.llm.accounting import incident_usage
from incidentflow.models import (
    DecisionRequest,
    Engine,
    FaultType,
    IncidentRecord,
    IncidentState,
    RollbackParams,
)
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow
from workflows.names import stream_workflow_id

WAITING = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}


@contextlib.asynccontextmanager
async def llm_stack(
    dev_server: DevServer, tmp_path: Path, script: Script, **overrides: Any
) -> AsyncIterator[tuple[Stack, FakeOpenAI]]:
    """Workers and webhook whose agents ask the fake model."""
    with FakeOpenAI(script) as fake:
        values = llm_values(fake, **overrides)
        settings = make_settings(dev_server.address, tmp_path / "data", **values)
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            yield stack, fake


async def fire(stack: Stack, annotation: str | None = None) -> str:
    payloads = demo_payloads()
    for payload in payloads:
        for alert in payload["alerts"] if annotation else []:
            summary = alert["annotations"].get("summary", "")
            alert["annotations"].update(summary=f"{summary} {annotation}", description=annotation)
        resp = await stack.post_alertmanager(payload)
        assert resp.status_code == 202, resp.text
    return await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )


async def reject(stack: Stack, incident_id: str) -> IncidentRecord:
    request = DecisionRequest(by="bob", reason="testing")
    await IncidentClient(stack.client).decide(incident_id, approve=False, request=request)
    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    return await handle.result()


@pytest.mark.timeout(150)
async def test_every_agent_answers_through_the_model_end_to_end(
    dev_server: DevServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with llm_stack(dev_server, tmp_path, analyst) as (stack, fake):
        incident_id = await fire(stack)
        record = await wait_for_state(stack.client, incident_id, WAITING, timeout=90)
        assert record.state is IncidentState.AWAITING_APPROVAL, record.timeline
        final = await reject(stack, incident_id)
        histories = [
            await stack.client.get_workflow_handle(wf).fetch_history()
            for wf in (incident_id, stream_workflow_id(stack.settings.environment))
        ]

    assert all(d.engine is Engine.LLM for d in record.detections)
    assert record.incident.title.startswith(f"{DEMO_ORIGIN} failing")
    inv, plan = record.investigation, record.plan
    assert inv is not None and inv.engine is Engine.LLM and inv.top is not None
    assert inv.top.service == DEMO_ORIGIN and inv.top.fault_type is FaultType.BAD_DEPLOY
    assert set(inv.top.evidence_ids) <= {e.id for e in inv.evidence}
    assert inv.llm_usage is not None and inv.llm_usage.tool_calls == 3
    assert inv.llm_usage.incident_id == incident_id and inv.llm_usage.prompt_tokens > 0
    assert plan is not None and plan.engine is Engine.LLM and plan.action is not None
    assert isinstance(plan.action.params, RollbackParams)
    assert plan.action.params.to_version == "v2.14.0"
    pm = final.postmortem
    assert pm is not None and pm.engine is Engine.LLM and "the model's summary" in pm.markdown
    usage = incident_usage(final)
    assert set(usage) == {"investigation", "remediation", "postmortem", "total"}
    assert usage["total"].calls == inv.llm_usage.calls + 2 and usage["total"].total_tokens > 0

    agents = {r.agent for r in fake.requests}
    assert agents == {"detection", "correlation", "investigation", "remediation", "postmortem"}
    assert all(r.headers["authorization"] == f"Bearer {FAKE_KEY}" for r in fake.requests)
    # The key lives in the agents' worker only: never in a workflow history, never in a log.
    for history in histories:
        assert FAKE_KEY not in history.to_json()
    assert FAKE_KEY not in caplog.text
    assert f"llm investigation for {incident_id} answered by llm" in caplog.text


@pytest.mark.timeout(150)
async def test_instructions_hidden_in_an_alert_and_a_log_line_are_refused(
    dev_server: DevServer, tmp_path: Path
) -> None:
    bundle = injected_bundle(tmp_path, LOG_INJECTION)
    async with llm_stack(dev_server, tmp_path, obedient, evidence_bundle=bundle) as (stack, fake):
        incident_id = await fire(stack, INJECTION)
        record = await wait_for_state(stack.client, incident_id, WAITING, timeout=90)
        final = await reject(stack, incident_id)

    assert record.state is IncidentState.AWAITING_APPROVAL, record.timeline
    assert all(d.engine is Engine.RULES for d in record.detections)
    assert record.incident.origin_service == DEMO_ORIGIN
    for artifact in (record.investigation, record.plan, final.postmortem):
        assert artifact is not None and artifact.engine is Engine.RULES
        assert artifact.engine_reason.startswith("llm: answer refused after one repair")
        assert artifact.llm_usage is not None and artifact.llm_usage.repairs == 1
    plan = record.plan
    assert plan is not None and plan.action is not None
    assert isinstance(plan.action.params, RollbackParams) and plan.action.risk.value == "medium"
    inv = record.investigation
    assert inv is not None and inv.top is not None and inv.top.service == DEMO_ORIGIN
    cited = {i for h in inv.hypotheses for i in h.evidence_ids} | set(plan.evidence_ids)
    assert MADE_UP_ID not in cited | {e.id for e in inv.evidence}
    assert "evil-svc" not in plan.model_dump_json() and "fix.sh" not in plan.action.summary
    # The model did see the hidden instructions (and obeyed them), in every agent.
    obeyed = {r.agent for r in fake.requests if r.repairing}
    assert obeyed == {"detection", "correlation", "investigation", "remediation", "postmortem"}


@pytest.mark.timeout(120)
async def test_temporal_retries_a_503_and_a_wrong_key_parks_with_the_setting_named(
    dev_server: DevServer, tmp_path: Path
) -> None:
    failures: list[str] = []

    def flaky(req: Request) -> Reply:
        if req.agent == "investigation" and not failures:
            failures.append("503")
            return fail(503, "model overloaded")
        return analyst(req)

    async with llm_stack(dev_server, tmp_path / "flaky", flaky, llm_agents="investigation") as (
        stack,
        fake,
    ):
        incident_id = await fire(stack)
        record = await wait_for_state(stack.client, incident_id, WAITING, timeout=90)
    assert record.investigation is not None and record.investigation.engine is Engine.LLM
    # One 503, retried by Temporal: the failed call, then the investigation's two calls (and
    # two more per re-investigation when later alerts join the incident).
    calls = len(fake.by_agent("investigation"))
    assert failures == ["503"] and calls >= 3 and (calls - 1) % 2 == 0, calls

    async with llm_stack(
        dev_server,
        tmp_path / "badkey",
        analyst,
        llm_agents="investigation",
        llm_api_key="sk-revoked-key-0123456789",
    ) as (stack, fake):
        incident_id = await fire(stack)
        record = await wait_for_state(stack.client, incident_id, WAITING, timeout=90)
    assert record.state is IncidentState.NEEDS_ATTENTION
    assert record.parked_stage == "investigation"
    assert any("INCIDENTFLOW_LLM_API_KEY" in e.summary for e in record.timeline)
    assert all("sk-revoked" not in e.summary for e in record.timeline)
    assert len(fake.requests) == 1, "a 401 is not retried"
