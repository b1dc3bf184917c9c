"""Record the replay corpus: `python tests/histories/record.py` (about two minutes).

Version 0.1 restarted the versioning discipline (workflows/patches.py): the corpus holds one
history per path an incident or a stream can take, all recorded with today's code on a fresh
dev server, each in an environment of its own. tests/integration/test_replay.py replays every
`*.json` here. Decisions go through the decision API with a signed decision (so replaying
runs the signature check again: the public key is in the recorded configuration).

Re-record (overwrite) only when a change is meant to be incompatible with open workflows,
which in 0.1 and later means never without a patch: see docs/production.md. Add a recording
when a workflow gains a path.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "integration"), str(HERE.parents[1])]

from conftest import Stack, app_stack, make_settings
from drills import slow_config, slow_investigation
from fakes import Receiver, install_fake_kubectl
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from test_ingest_sources import am_alert, am_payload, wait_processed
from test_takeover import person_investigation

import worker
from incidentflow.cli.moves import merge, split
from incidentflow.client import IncidentClient
from incidentflow.identity.signing import new_key_pair
from incidentflow.models import (
    IncidentState,
    MergeRequest,
    SplitRequest,
    StreamInput,
    TakeoverRequest,
)
from incidentflow.temporal import DevServer, connect, free_port
from workflows.names import stream_workflow_id
from workflows.stream import AlertStreamWorkflow

real_investigation = worker.InvestigationActivities
real_remediation = worker.RemediationActivities

DEPLOYMENTS = {"payments": {"images": ["payments:v2.14.0", "payments:v2.15.0"], "replicas": 3}}
TOKEN = {"Authorization": "Bearer tok-recorder"}
WAITING = {IncidentState.AWAITING_APPROVAL}
# One recorded path: drives a stack, returns {role: workflow id[@run id]} to write.
Path_ = Callable[[Stack], Awaitable[dict[str, str]]]


async def api(stack: Stack, incident_id: str, verb: str, body: dict[str, Any]) -> None:
    answer = await stack.http.post(f"/v1/incidents/{incident_id}/{verb}", json=body, headers=TOKEN)
    if answer.status_code != 200:
        raise RuntimeError(f"{verb} {incident_id}: {answer.status_code} {answer.text}")


async def demo(stack: Stack) -> str:
    payloads = demo_payloads()
    for payload in payloads:
        await stack.post_alertmanager(payload)
    return await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )


async def ended(stack: Stack, incident_id: str, state: IncidentState) -> None:
    final = await asyncio.wait_for(stack.client.get_workflow_handle(incident_id).result(), 90)
    got = final["state"] if isinstance(final, dict) else final.state
    if got != state.value and got is not state:
        raise RuntimeError(f"{incident_id} ended {got}, not {state.value}")


async def happy(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    await wait_for_state(stack.client, incident_id, WAITING)
    await api(stack, incident_id, "approve", {"reason": "recorded"})
    await ended(stack, incident_id, IncidentState.CLOSED)
    return {"incident": incident_id, "stream": stream_workflow_id(stack.settings.environment)}


async def reject(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    await wait_for_state(stack.client, incident_id, WAITING)
    await api(stack, incident_id, "reject", {"reason": "freeze in force"})
    await ended(stack, incident_id, IncidentState.REJECTED)
    return {"incident": incident_id}


async def expiry(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    await ended(stack, incident_id, IncidentState.EXPIRED)
    return {"incident": incident_id}


async def takeover(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    await wait_for_state(stack.client, incident_id, {IncidentState.INVESTIGATING})
    await api(stack, incident_id, "pause", {"text": "looking"})
    await api(stack, incident_id, "resume", {})
    # Assigning upserts the IncidentOwner search attribute (issue 20).
    await api(stack, incident_id, "assign", {"text": "recorder"})
    record = await wait_for_state(stack.client, incident_id, WAITING)
    mine = person_investigation(incident_id, record.incident.opened_at)
    await api(
        stack,
        incident_id,
        "override",
        {"stage": "investigation", "investigation": mine.model_dump(mode="json")},
    )
    await asyncio.sleep(2)
    await wait_for_state(stack.client, incident_id, WAITING)
    await api(stack, incident_id, "skip", {"stage": "execution", "reason": "restarting by hand"})
    await ended(stack, incident_id, IncidentState.CLOSED)
    return {"incident": incident_id}


async def early(stack: Stack) -> dict[str, str]:
    """A person acts before the incident has read its configuration: the note (a signal) is
    held, the pause (an update) waits, and both are judged against the configuration."""
    incident_id = await demo(stack)
    handle = stack.client.get_workflow_handle(incident_id)
    await handle.signal("note", TakeoverRequest(by="recorder", text="seen it"))
    await api(stack, incident_id, "pause", {"text": "before the configuration"})
    await api(stack, incident_id, "resume", {})
    await wait_for_state(stack.client, incident_id, WAITING)
    await api(stack, incident_id, "approve", {"reason": "recorded"})
    await ended(stack, incident_id, IncidentState.CLOSED)
    return {"incident": incident_id}


async def two_incidents(stack: Stack) -> tuple[str, str]:
    now = datetime.now(UTC) - timedelta(seconds=30)
    a = [am_alert(f"PayErr{i}", "payments", "firing", now, f"fp-a{i}") for i in range(2)]
    later = now - timedelta(hours=3)
    b = [am_alert(f"PayLat{i}", "payments", "firing", later, f"fp-b{i}") for i in range(2)]
    await stack.post_alertmanager(am_payload(*a, *b))
    await wait_processed(stack.client, stack.settings.environment, 4)
    first, second = sorted(
        await IncidentClient(stack.client).open_incidents(stack.settings.environment),
        key=lambda i: i.opened_at,
    )
    return first.id, second.id


async def merged(stack: Stack) -> dict[str, str]:
    target, source = await two_incidents(stack)
    await wait_for_state(stack.client, source, {*WAITING, IncidentState.NEEDS_ATTENTION})
    await merge(stack.client, MergeRequest(target=target, source=source, by="recorder"))
    await ended(stack, source, IncidentState.MERGED)
    await api(stack, target, "resolve", {"text": "recorded"})
    await ended(stack, target, IncidentState.CLOSED)
    return {"source": source, "target": target}


async def splitted(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    record = await wait_for_state(stack.client, incident_id, WAITING)
    moving = [
        a.fingerprint for a in record.incident.alerts if a.labels.get("service") != "payments"
    ]
    done = await split(
        stack.client,
        stack.settings,
        SplitRequest(incident_id=incident_id, fingerprints=moving[:1], by="recorder"),
    )
    new_id = done.incident.id
    await wait_for_state(stack.client, new_id, {*WAITING, IncidentState.NEEDS_ATTENTION})
    for each in (incident_id, new_id):
        await api(stack, each, "resolve", {"text": "recorded"})
        await ended(stack, each, IncidentState.CLOSED)
    return {"source": incident_id, "new": new_id}


async def reinvestigation(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    first = await wait_for_state(stack.client, incident_id, WAITING)
    now = datetime.now(UTC) - timedelta(seconds=5)
    joining = am_alert("PaymentsLatencyHigh", "payments", "firing", now, "fp-late-1")
    await stack.post_alertmanager(am_payload(joining))
    for _ in range(300):
        record = await IncidentClient(stack.client).record(incident_id)
        if (
            record.plan
            and first.plan
            and record.plan.id != first.plan.id
            and record.state in WAITING
        ):
            break
        await asyncio.sleep(0.2)
    else:
        raise RuntimeError(f"{incident_id} did not re-plan")
    await api(stack, incident_id, "approve", {"reason": "recorded"})
    await ended(stack, incident_id, IncidentState.CLOSED)
    return {"incident": incident_id}


async def undone(stack: Stack) -> dict[str, str]:
    incident_id = await demo(stack)
    await wait_for_state(stack.client, incident_id, WAITING)
    await api(stack, incident_id, "approve", {"reason": "recorded"})
    await wait_for_state(stack.client, incident_id, {IncidentState.NEEDS_ATTENTION})
    await api(stack, incident_id, "resolve", {"text": "fixed by hand after the undo"})
    await ended(stack, incident_id, IncidentState.CLOSED)
    return {"incident": incident_id}


async def continued(stack: Stack) -> dict[str, str]:
    s = stack.settings
    stream_id = stream_workflow_id(s.environment)
    # A stream that hands over after a few events, started before any alert arrives.
    await stack.client.start_workflow(
        AlertStreamWorkflow.run,
        StreamInput(
            environment=s.environment,
            continue_as_new_after_events=20,
        ),
        id=stream_id,
        task_queue=s.temporal.workflow_queue,
    )
    first_run = (await stack.client.get_workflow_handle(stream_id).describe()).run_id
    start = datetime.now(UTC) - timedelta(minutes=1)
    for b in range(6):
        alerts = [am_alert(f"Err{b}", "payments", "firing", start, f"fp-c{b}")]
        await stack.post_alertmanager(am_payload(*alerts))
        await wait_processed(stack.client, s.environment, b + 1)
    return {"stream": f"{stream_id}@{first_run}"}


PATHS: dict[str, tuple[Path_, dict[str, object]]] = {
    "happy": (happy, {}),
    "reject": (reject, {}),
    "expiry": (expiry, {"approval_timeout_seconds": 2}),
    "takeover": (takeover, {"slow_investigation": 3}),
    "early": (early, {"slow_config": 3}),
    "merge": (merged, {}),
    "split": (splitted, {}),
    "reinvestigation": (reinvestigation, {"reinvestigate_debounce_seconds": 1}),
    "notification": (happy, {"notify": True}),
    # The fake kubectl (tests/integration/fakes.py) acts; the alerts keep firing, so the
    # verification fails within 2 s and the action is undone.
    "undo": (undone, {"kubectl": True, "verify_window_seconds": 2}),
    "continued": (continued, {}),
}


async def record(out: Path, only: list[str]) -> None:
    """Run each path on one fresh dev server and write its workflows' histories as JSON."""
    with tempfile.TemporaryDirectory() as tmp, Receiver() as hook:
        server = DevServer(db_file=Path(tmp) / "t.sqlite", port=free_port(), ui_port=free_port())
        server.start()
        try:
            for name, (path, overrides) in PATHS.items():
                if only and name not in only:
                    continue
                extra = dict(overrides)
                # A drill is a test-code subclass of the real activity, swapped in for one path.
                delay = extra.pop("slow_investigation", None)
                worker.InvestigationActivities = (  # type: ignore[misc]
                    slow_investigation(float(str(delay))) if delay else real_investigation
                )
                late = extra.pop("slow_config", None)
                worker.RemediationActivities = (  # type: ignore[misc]
                    slow_config(float(str(late))) if late else real_remediation
                )
                if extra.pop("notify", False):
                    extra["notify_webhook_url"] = hook.url
                if extra.pop("kubectl", False):
                    kubectl = install_fake_kubectl(Path(tmp) / "bin", DEPLOYMENTS)
                    extra |= {"executor": "kubectl", "executor_kubectl": str(kubectl)}
                settings = make_settings(
                    server.address,
                    Path(tmp) / name,
                    environment=f"replay-{name}",
                    decisions_allow_unsigned=False,
                    decision_signing_key=new_key_pair()[0],
                    api_tokens={"recorder": "tok-recorder"},
                    decision_roles={"*": {"approvers": ["recorder"], "owners": ["recorder"]}},
                    **extra,
                )
                client = await connect(settings)
                async with app_stack(settings, client) as stack:
                    ids = await path(stack)
                    for role, wf in ids.items():
                        wf_id, _, run_id = wf.partition("@")
                        handle = client.get_workflow_handle(wf_id, run_id=run_id or None)
                        history = await handle.fetch_history()
                        (out / f"{name}_{role}.json").write_text(history.to_json())
                        print(f"{name}_{role}: {wf} {len(history.events)} events")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(record(HERE, sys.argv[1:]))
