"""Helpers shared by the LLM tests: settings that point at the fake, an activity context."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fake_openai import FAKE_KEY, FAKE_MODEL, FakeOpenAI
from temporalio.common import RetryPolicy
from temporalio.testing import ActivityEnvironment

from incidentflow.agents.correlation import correlate
from incidentflow.agents.detection import detect
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.context import AgentContext, build_context
from incidentflow.ingest.alertmanager import AlertmanagerWebhook, normalize
from incidentflow.models import AlertBatch, CorrelationInput, Incident
from incidentflow.scenario import load_scenario
from incidentflow.settings import Settings


def llm_values(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    """INCIDENTFLOW_LLM_* values that point every agent at `fake`."""
    values: dict[str, Any] = {
        "llm_agents": "all",
        "llm_base_url": fake.url,
        "llm_model": FAKE_MODEL,
        "llm_api_key": FAKE_KEY,
        "evidence_bundle": demo_scenario_path(),
    }
    values.update(overrides)
    return values


def llm_context(fake: FakeOpenAI, **overrides: Any) -> AgentContext:
    """The agents' context of a worker configured for `fake` (demo bundle as evidence)."""
    return build_context(Settings().replace(llm_values(fake, **overrides)))


def activity_env(
    attempt: int = 1, *, seconds: float = 60, max_attempts: int = 5
) -> ActivityEnvironment:
    """An activity context that started now, on `attempt`, with the workflows' retry cap."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=attempt,
        started_time=datetime.now(UTC),
        start_to_close_timeout=timedelta(seconds=seconds),
        retry_policy=RetryPolicy(maximum_attempts=max_attempts),
    )
    return env


def demo_batch(extra_annotation: str | None = None) -> AlertBatch:
    """The demo's deliveries as one batch; optionally with text added to every annotation."""
    scenario = load_scenario(demo_scenario_path())
    alerts = [
        a for p in scenario.alert_payloads for a in normalize(AlertmanagerWebhook.model_validate(p))
    ]
    if extra_annotation:
        alerts = [
            a.model_copy(
                update={
                    "annotations": {
                        **a.annotations,
                        "summary": f"{a.summary} {extra_annotation}",
                        "description": extra_annotation,
                    }
                }
            )
            for a in alerts
        ]
    return AlertBatch(
        batch_id="b-1", environment="production", received_at=datetime.now(UTC), alerts=alerts
    )


def demo_incident(ctx: AgentContext, extra_annotation: str | None = None) -> Incident:
    """The demo incident as the rules engines open it."""
    dets = detect(demo_batch(extra_annotation), ctx.graph).detections
    result = correlate(CorrelationInput(detections=dets, open_incidents=[]), ctx.graph)
    return result.new_incidents[0]


def injected_bundle(root: Path, line: str, *, count: int = 30) -> Path:
    """A copy of the demo bundle whose payments service logs `line` after the onset."""
    target = root / "demo-shop-injected"
    shutil.copytree(demo_scenario_path(), target)
    start = datetime(2025, 3, 14, 14, 1, 0, tzinfo=UTC)
    with (target / "logs.jsonl").open("a") as logs:
        for n in range(count):
            at = (start + timedelta(seconds=5 * n)).isoformat().replace("+00:00", "Z")
            record = {"time": at, "service": "payments", "level": "error", "message": line}
            logs.write(json.dumps(record) + "\n")
    return target
