"""Durability against the real dev server: crashes of a worker, the server, the remediation worker.

Workers that get killed run as real processes (`python -m worker`) and die by SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from incidentflow.agents.investigation import investigate
from incidentflow.client import IncidentClient
from incidentflow.codec import DATA_CONVERTER
from incidentflow.context import build_context
from incidentflow.errors import TemporalUnavailable
from incidentflow.executors import Ledger
from incidentflow.models import (
    ActionStatus,
    Approval,
    DecisionRequest,
    IncidentInput,
    IncidentState,
    InvestigationInput,
)
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port
from workflows.incident import IncidentWorkflow

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a worker process of this test runs with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")}
    env.update(
        INCIDENTFLOW_TEMPORAL_ADDRESS=settings.temporal.target,
        INCIDENTFLOW_TASK_QUEUE_PREFIX=settings.temporal.task_queue_prefix,
        INCIDENTFLOW_DATA_DIR=str(settings.data_dir),
        INCIDENTFLOW_ENVIRONMENT=settings.environment,
    )
    if settings.sources.evidence_bundle is not None:
        env["INCIDENTFLOW_EVIDENCE_BUNDLE"] = str(settings.sources.evidence_bundle)
    if settings.decisions.decisions_allow_unsigned is not None:
        # As the test's settings say (conftest allows named unsigned decisions by default).
        env["INCIDENTFLOW_DECISIONS_ALLOW_UNSIGNED"] = str(
            settings.decisions.decisions_allow_unsigned
        ).lower()
    env.update(extra)
    return env


class Procs:
    """Worker processes started by a test; all killed when it ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, queue: str, env: dict[str, str], name: str, *drill: str
    ) -> subprocess.Popen[bytes]:
        """A real worker process; with `drill` arguments, tests/drills.py breaks one step."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        entry = [str(ROOT / "tests" / "drills.py"), *drill] if drill else ["-m", "worker"]
        proc = subprocess.Popen(
            [sys.executable, *entry, "--queue", queue],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(proc)
        return proc


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path / "logs")
    yield p
    for proc in p.started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def incident_input(client: Client, incident_id: str) -> IncidentInput:
    """The input the incident workflow was started with, decoded from its history."""
    history = await client.get_workflow_handle(incident_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [value] = await DATA_CONVERTER.decode(started.input.payloads, [IncidentInput])
    assert isinstance(value, IncidentInput)
    return value


async def attempts_of(client: Client, incident_id: str, activity: str) -> int:
    """The highest attempt number the incident's history records for an activity type."""
    history = await client.get_workflow_handle(incident_id).fetch_history()
    scheduled: set[int] = set()
    attempt = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == activity:
                scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if attrs.scheduled_event_id in scheduled:
                attempt = max(attempt, attrs.attempt)
    return attempt


async def post_demo(settings: Settings, client: Client) -> str:
    """Post the demo through the real webhook app (no workers in this process)."""
    async with app_stack(settings, client, queues=()) as stack:
        payloads = demo_payloads()
        for payload in payloads:
            resp = await stack.post_alertmanager(payload)
            assert resp.status_code == 202, resp.text
        return await wait_for_incident(client, settings, fingerprints_of(payloads, DEMO_ORIGIN))


async def test_worker_killed_during_investigation_completes_with_same_artifacts(
    settings: Settings, client: Client, procs: Procs
) -> None:
    slow = procs.start(
        "default",
        worker_env(settings),
        "slow-worker",
        "--investigation-delay=60",
    )
    incident_id = await post_demo(settings, client)
    await wait_for_state(client, incident_id, {IncidentState.INVESTIGATING})
    await asyncio.sleep(1.5)  # the activity is running and heartbeating in that process
    slow.send_signal(signal.SIGKILL)
    slow.wait()

    procs.start("default", worker_env(settings), "fresh-worker")
    record = await wait_for_state(
        client, incident_id, {IncidentState.AWAITING_APPROVAL}, timeout=90
    )
    assert await attempts_of(client, incident_id, "investigate") >= 2
    # The same artifact the agent gives for the same input, as if nothing had happened.
    inp = await incident_input(client, incident_id)
    ctx = build_context(settings)
    expected = investigate(InvestigationInput(incident=inp.incident), ctx.graph, ctx.evidence)
    found = record.investigation
    assert found is not None and [(s.name, s.state.value) for s in found.sources] == [
        ("bundle", "ok")
    ]
    assert found.model_copy(update={"sources": []}) == expected
    assert record.plan is not None and record.plan.action is not None


async def test_server_killed_while_awaiting_approval_resumes_from_its_file(
    tmp_path: Path,
) -> None:
    server = DevServer(
        db_file=tmp_path / "durable.sqlite",
        port=free_port(),
        ui_port=free_port(),
        log_file=tmp_path / "server.log",
    )
    server.start()
    try:
        settings = make_settings(server.address, tmp_path / "data")
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            payloads = demo_payloads()
            for payload in payloads:
                assert (await stack.post_alertmanager(payload)).status_code == 202
            incident_id = await wait_for_incident(
                client, settings, fingerprints_of(payloads, DEMO_ORIGIN)
            )
            before = await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})

            server.kill()
            await asyncio.sleep(1)
            server.start()  # same port, same SQLite file

            approval = await asyncio.wait_for(_approve_when_back(client, incident_id), timeout=60)
            assert approval.by == "dana"
            final = await asyncio.wait_for(
                client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result(),
                timeout=60,
            )
    finally:
        server.stop()
    assert final.state is IncidentState.CLOSED
    assert final.investigation == before.investigation
    assert final.plan == before.plan
    assert len(final.results) == 1


async def _approve_when_back(client: Client, incident_id: str) -> Approval:
    """Approve, retrying while the restarted server is still coming up."""
    while True:
        try:
            return await IncidentClient(client).decide(
                incident_id, approve=True, request=DecisionRequest(by="dana")
            )
        except TemporalUnavailable:
            await asyncio.sleep(0.5)


async def test_remediation_worker_crash_after_acting_does_not_act_twice(
    settings: Settings, client: Client, procs: Procs
) -> None:
    crashing = procs.start(
        "remediation",
        worker_env(settings),
        "crashing-remediation",
        "--crash-after-execute",
    )
    async with app_stack(settings, client, queues=("default",)):
        incident_id = await post_demo(settings, client)
        await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="erin")
        )
        # The drill: the process acts, records it, and dies before telling Temporal.
        returncode = await asyncio.to_thread(crashing.wait, 60)
        assert returncode != 0
        ledger = Ledger(settings.remediation_dir / "ledger.sqlite")
        assert ledger.count() == 1

        procs.start("remediation", worker_env(settings), "healthy-remediation")
        final = await asyncio.wait_for(
            client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result(),
            timeout=90,
        )
    assert final.state is IncidentState.CLOSED
    assert await attempts_of(client, incident_id, "execute_action") >= 2
    assert [r.status for r in final.results] == [ActionStatus.ALREADY_DONE]
    assert ledger.count() == 1
