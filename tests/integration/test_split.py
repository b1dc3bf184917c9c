"""A person splits alerts off the demo incident with the real `incidentflow split` command.

The workers and the webhook run in this process (the `stack` fixture); the command runs as its
own process against the same dev server, as a person would run it in a second terminal.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from datetime import UTC, datetime
from typing import Any

from conftest import Stack
from flow import wait_for_state
from remediation_flow import fire, until
from temporalio.worker import Replayer
from test_cli import ROOT, cli_env
from test_ingest_sources import wait_processed

from incidentflow.agents.splitting import split_incident_id
from incidentflow.client import IncidentClient
from incidentflow.codec import DATA_CONVERTER
from incidentflow.models import IncidentState, SplitRequest
from worker import WORKFLOWS
from workflows.incident import IncidentWorkflow

# The checkout alerts of the demo: a second problem, as far as this test's person knows.
SPLIT_NAMES = ("CheckoutHighErrorRate", "CheckoutHighLatency")
REASON = "checkout's own DB pool, not the payments deploy"


async def run_cli(stack: Stack, *args: str) -> tuple[int, str, str]:
    """`incidentflow ARGS` in its own process, without blocking this loop's workers."""
    s = stack.settings
    env = cli_env(
        INCIDENTFLOW_TEMPORAL_ADDRESS=s.temporal.target,
        INCIDENTFLOW_TASK_QUEUE_PREFIX=s.temporal.task_queue_prefix,
        INCIDENTFLOW_ENVIRONMENT=s.environment,
        INCIDENTFLOW_DATA_DIR=str(s.data_dir),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def delivered(payloads: list[dict[str, Any]]) -> int:
    return sum(len(p["alerts"]) for p in payloads)


def fingerprints_named(payloads: list[dict[str, Any]], names: tuple[str, ...]) -> list[str]:
    return sorted(
        {
            a["fingerprint"]
            for p in payloads
            for a in p["alerts"]
            if a["labels"]["alertname"] in names
        }
    )


async def test_split_opens_its_own_incident_recorded_in_both(stack: Stack) -> None:
    client, env = stack.client, stack.settings.environment
    source_id, payloads = await fire(stack)
    await wait_processed(client, env, delivered(payloads))
    moving = fingerprints_named(payloads, SPLIT_NAMES)
    assert len(moving) == 2
    before = await IncidentClient(client).record(source_id)
    new_id = split_incident_id(source_id, before.incident.opened_at, moving)

    # An earlier run of the command moved the alerts out, then died before it opened the new
    # incident: running it again must finish the job, not lose the alerts.
    source = client.get_workflow_handle_for(IncidentWorkflow.run, source_id)
    ask = SplitRequest(incident_id=source_id, fingerprints=moving, by="alice", reason=REASON)
    await source.execute_update(IncidentWorkflow.split_out, ask.model_copy(update={"into": new_id}))

    alerts = [arg for fp in reversed(moving) for arg in ("--alert", fp)]
    code, out, err = await run_cli(
        stack, "split", source_id, *alerts, "--by", "alice", "--reason", REASON
    )
    assert code == 0, err
    assert f"split 2 alert(s) off {source_id} into {new_id}" in out
    assert f"incidentflow show {new_id}" in out

    # The new incident runs with exactly those alerts and its own investigation.
    split_off = await wait_for_state(
        client,
        new_id,
        {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION, IncidentState.CLOSED},
    )
    assert sorted(a.fingerprint for a in split_off.incident.alerts) == moving
    assert split_off.investigation is not None and split_off.investigation.incident_id == new_id
    assert split_off.incident.origin_service == "checkout"
    assert split_off.incident.severity.value == "critical"
    assert split_off.incident.reasons[0] == f"split from {source_id} by alice: {REASON}"
    assert {d.alert.fingerprint for d in split_off.detections} == set(moving)
    first = split_off.timeline[0]
    assert first.actor == "alice" and first.summary == f"split from {source_id} by alice: {REASON}"

    # The source no longer lists them, and says once where they went, who moved them and why.
    after = await IncidentClient(client).record(source_id)
    assert not set(moving) & {a.fingerprint for a in after.incident.alerts}
    assert after.incident.alerts
    moves = [e for e in after.timeline if e.summary.startswith("split 2 alert(s) out")]
    assert len(moves) == 1
    assert moves[0].actor == "alice" and f"into {new_id}" in moves[0].summary
    assert moves[0].summary.endswith(REASON)

    # The stream's index moved the fingerprints, so later alerts join the right incident.
    async def index_moved() -> bool:
        index = {i.id: i for i in await IncidentClient(client).open_incidents(env)}
        return (
            new_id in index
            and sorted(index[new_id].fingerprints) == moving
            and not set(moving) & set(index[source_id].fingerprints)
        )

    await until(index_moved)

    # The same command again opens nothing: same id, same run, one move on record.
    run_id = (await client.get_workflow_handle(new_id).describe()).run_id
    code, out, err = await run_cli(
        stack, "split", source_id, *alerts, "--by", "alice", "--reason", REASON
    )
    assert code == 0, err
    assert f"{new_id} was already split off {source_id}" in out and "nothing changed" in out
    assert (await client.get_workflow_handle(new_id).describe()).run_id == run_id
    again = await IncidentClient(client).record(source_id)
    assert len([e for e in again.timeline if e.summary.startswith("split 2 alert(s)")]) == 1
    assert len(await IncidentClient(client).open_incidents(env)) == 2

    # Later news of a moved alert (it resolved) goes to the new incident, not the source.
    (payload,) = [p for p in payloads if p["alerts"][0]["fingerprint"] == moving[0]]
    resolved = copy.deepcopy(payload)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = datetime.now(UTC).isoformat()
    assert (await stack.post_alertmanager(resolved)).status_code == 202

    async def resolved_in_new() -> bool:
        rec = await IncidentClient(client).record(new_id)
        return any(
            a.fingerprint == moving[0] and a.status.value == "resolved" for a in rec.incident.alerts
        )

    await until(resolved_in_new)
    last = await IncidentClient(client).record(source_id)
    assert not set(moving) & {a.fingerprint for a in last.incident.alerts}

    # Both histories, with the split, its repeat and the crash-recovery in them, replay.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER)
    for wf_id in (source_id, new_id):
        history = await client.get_workflow_handle(wf_id).fetch_history()
        await replayer.replay_workflow(history, raise_on_replay_failure=True)


async def test_split_mistakes_are_one_line(stack: Stack) -> None:
    client, env = stack.client, stack.settings.environment
    source_id, payloads = await fire(stack)
    await wait_processed(client, env, delivered(payloads))
    record = await IncidentClient(client).record(source_id)
    every = [arg for a in record.incident.alerts for arg in ("--alert", a.fingerprint)]
    (unknown, everything) = await asyncio.gather(
        run_cli(stack, "split", source_id, "--alert", "fp-nope", "--by", "alice"),
        run_cli(stack, "split", source_id, *every, "--by", "alice"),
    )
    for code, out, err in (unknown, everything):
        assert code == 1, (out, err)
        assert len(err.strip().splitlines()) == 1, err
    assert f"not alerts of {source_id}: fp-nope" in unknown[2]
    assert f"incidentflow show {source_id} --json" in unknown[2]
    assert "must leave at least one alert" in everything[2]
    assert "name fewer --alert" in everything[2]
    # Refused before anything moved: the same incident, the same alerts, no new incident.
    still = await IncidentClient(client).record(source_id)
    assert {a.fingerprint for a in still.incident.alerts} == {
        a.fingerprint for a in record.incident.alerts
    }
    assert [i.id for i in await IncidentClient(client).open_incidents(env)] == [source_id]
