"""Least privilege, tested: only the remediation worker can act or open executor credentials."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

from conftest import app_stack
from remediation_flow import awaiting, fire, until, workers  # noqa: F401  (a fixture)
from temporalio.client import Client
from test_durability import Procs, incident_input, worker_env

from incidentflow.client import IncidentClient
from incidentflow.models import DecisionRequest, IncidentInput
from incidentflow.settings import Settings
from workflows.incident import IncidentWorkflow


def has_reader(fifo: Path) -> bool:
    """True when some process holds `fifo` open for reading (opening it is a credential read)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ENXIO:
            return False
        raise
    os.close(fd)
    return True


def hand_secret(fifo: Path) -> bool:
    """Write the secret once a reader has the FIFO open; False while nobody reads it.

    Non-blocking on purpose: a blocked writer thread would outlive a failed test.
    """
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ENXIO:
            return False
        raise
    try:
        os.write(fd, b"k")
    finally:
        os.close(fd)
    return True


async def test_agents_worker_cannot_execute(settings: Settings, client: Client) -> None:
    async with app_stack(settings, client, queues=("default",)) as stack:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)
        # A second incident workflow whose "remediation" queue is the agents' queue.
        inp: IncidentInput = await incident_input(client, incident_id)
        rogue_id = incident_id + "-rogue"
        rogue = inp.model_copy(
            update={
                "incident": inp.incident.model_copy(update={"id": rogue_id}),
                "remediation_queue": settings.temporal.agent_queue,
            }
        )
        handle = await client.start_workflow(
            IncidentWorkflow.run, rogue, id=rogue_id, task_queue=settings.temporal.workflow_queue
        )
        await awaiting(stack, rogue_id)
        await IncidentClient(client).decide(rogue_id, approve=True, request=DecisionRequest(by="x"))
        async with asyncio.timeout(30):
            while True:
                desc = await handle.describe()
                pending = desc.raw_description.pending_activities
                failure = pending[0].last_failure.message if pending else ""
                if failure:
                    break
                await asyncio.sleep(0.3)
        await handle.terminate("test done")
    assert pending[0].activity_type.name == "execute_action"
    assert "not registered" in failure


async def test_only_remediation_worker_opens_executor_credentials(
    settings: Settings,
    workers: Procs,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    secrets = {}
    for name in ("agents", "remediation"):
        secrets[name] = tmp_path / f"{name}.secret"
        os.mkfifo(secrets[name])
    env = {
        "INCIDENTFLOW_EXECUTOR": "http",
        "INCIDENTFLOW_EXECUTOR_HTTP_URL": "http://127.0.0.1:9/hook",
    }
    workers.start(
        "default",
        worker_env(settings, **env, INCIDENTFLOW_EXECUTOR_HTTP_SECRET_FILE=str(secrets["agents"])),
        "agents",
    )
    workers.start(
        "remediation",
        worker_env(
            settings, **env, INCIDENTFLOW_EXECUTOR_HTTP_SECRET_FILE=str(secrets["remediation"])
        ),
        "remediation",
    )

    # The remediation worker opens its secret at start (blocked there until a writer comes).
    async def remediation_reads() -> bool:
        return hand_secret(secrets["remediation"])

    async def agents_serving() -> bool:
        return "serving" in (tmp_path / "logs" / "agents.log").read_text()

    await until(remediation_reads)
    # The agents' worker is serving by now (its log says so) and never opened its secret.
    await until(agents_serving)
    assert not has_reader(secrets["agents"])
