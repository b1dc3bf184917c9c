"""SIGKILL the remediation worker in the middle of an action: the effect happens once.

The executor is kubectl; no cluster is reachable from the tests, so a recording `kubectl`
(tests/integration/fakes.py) stands in, with a slow `rollout status` to kill the worker in.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from conftest import app_stack
from fakes import install_fake_kubectl, kubectl_calls, kubectl_state
from remediation_flow import awaiting, fire, until, workers  # noqa: F401  (a fixture)
from temporalio.client import Client
from test_durability import Procs, attempts_of, worker_env

from incidentflow.client import IncidentClient
from incidentflow.models import DecisionRequest, IncidentState, TakeoverRequest
from incidentflow.settings import Settings
from workflows.incident import IncidentWorkflow


def async_true(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def ready() -> bool:
        return check()

    return ready


DEPLOYMENTS = {"payments": {"images": ["payments:v2.14.0", "payments:v2.15.0"], "replicas": 3}}


async def test_remediation_worker_killed_mid_execution_acts_once(
    settings: Settings,
    client: Client,
    workers: Procs,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    kubectl = install_fake_kubectl(tmp_path / "bin", DEPLOYMENTS)
    state = kubectl.with_suffix(".json")
    slow = json.loads(state.read_text()) | {"status_delay": 60}
    state.write_text(json.dumps(slow))
    env = worker_env(
        settings,
        INCIDENTFLOW_EXECUTOR="kubectl",
        INCIDENTFLOW_EXECUTOR_KUBECTL=str(kubectl),
    )
    first = workers.start("remediation", env, "remediation-1")
    async with app_stack(settings, client, queues=("default",)) as stack:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="erin")
        )
        await until(
            async_true(lambda: any(c.startswith("rollout status") for c in kubectl_calls(kubectl)))
        )
        first.send_signal(signal.SIGKILL)  # mid-execution: rolled back, still "waiting"
        first.wait()
        fast = json.loads(state.read_text()) | {"status_delay": 0}
        state.write_text(json.dumps(fast))
        workers.start("remediation", env, "remediation-2")

        async def verifying() -> bool:
            record = await IncidentClient(client).record(incident_id)
            return record.state is IncidentState.VERIFYING

        await until(verifying, timeout=90)
        await IncidentClient(client).take_over(
            incident_id, "resolve", TakeoverRequest(by="erin", text="ok")
        )
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.CLOSED
    assert await attempts_of(client, incident_id, "execute_action") >= 2
    calls = kubectl_calls(kubectl)
    assert sum(c.startswith("rollout undo") for c in calls) == 1, calls  # one effect, not two
    assert kubectl_state(kubectl)["deployments"]["payments"]["images"][-1] == "payments:v2.14.0"
    assert len(final.results) == 1 and "already runs" in final.results[0].output
