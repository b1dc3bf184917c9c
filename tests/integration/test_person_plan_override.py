"""Issue 18 item 3 on the real dev server: a person's plan is params; the workflow writes the
words (summary, risk, verification, undo) from the catalog and refuses params out of bounds."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from conftest import Stack
from remediation_flow import awaiting, fire, until

from incidentflow.agents.remediation.person import person_plan
from incidentflow.catalog import CATALOG
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import Engine, OverrideRequest, Risk, ScaleParams, Stage

ROOT = Path(__file__).resolve().parents[2]


async def override_with_cli(stack: Stack, incident_id: str, doc: object, tmp: Path) -> str:
    """`incidentflow override INCIDENT planning FILE` in its own process; its stdout."""
    file = tmp / "plan.json"
    file.write_text(json.dumps(doc))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        "override",
        incident_id,
        "planning",
        str(file),
        "--by",
        "erin",
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "INCIDENTFLOW_TEMPORAL_ADDRESS": str(stack.settings.temporal.temporal_address),
            "INCIDENTFLOW_TEMPORAL_NAMESPACE": stack.settings.temporal.temporal_namespace,
            "INCIDENTFLOW_DATA_DIR": str(tmp / "cli-data"),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_a_persons_params_become_the_catalogs_plan_and_bad_params_are_refused(
    stack: Stack, tmp_path: Path
) -> None:
    incident_id, _ = await fire(stack)
    record = await awaiting(stack, incident_id)
    people = IncidentClient(stack.client)
    window = 600

    too_big = person_plan(
        {
            "action": {
                "params": {
                    "kind": "scale",
                    "service": "checkout",
                    "from_replicas": 2,
                    "to_replicas": 40,
                }
            }
        },
        record.incident,
        by="dana",
        window_seconds=window,
    )
    with pytest.raises(DecisionRefused, match="at most 4x"):
        await people.take_over(
            incident_id,
            "override",
            OverrideRequest(by="dana", stage=Stage.PLANNING, plan=too_big),
        )

    scale = ScaleParams(service="checkout", from_replicas=2, to_replicas=4)
    mine = person_plan(
        {"action": {"params": scale.model_dump()}, "rationale": "more checkout pods"},
        record.incident,
        by="dana",
        window_seconds=window,
    )
    assert mine.action is not None
    # Someone edits the words before sending: the workflow puts the catalog's back.
    edited = mine.model_copy(
        update={
            "action": mine.action.model_copy(
                update={"summary": "Tiny harmless tweak", "risk": Risk.LOW}
            )
        }
    )
    await people.take_over(
        incident_id,
        "override",
        OverrideRequest(by="dana", stage=Stage.PLANNING, plan=edited),
    )

    async def adopted() -> bool:
        got = (await people.record(incident_id)).plan
        return got is not None and got.action is not None and got.action.params == scale

    await until(adopted, timeout=30)
    plan = (await people.record(incident_id)).plan
    assert plan is not None and plan.action is not None and plan.engine is Engine.PERSON
    summary, undo, undo_summary = CATALOG.describe(scale)
    assert plan.action.summary == summary == "Scale checkout from 2 to 4 replicas"
    assert (plan.action.undo, plan.action.undo_summary) == (undo, undo_summary)
    assert plan.action.risk is CATALOG.risk(scale)

    # The same from the command line: a file that gives params only.
    restart = {"kind": "restart", "service": "checkout"}
    await override_with_cli(
        stack, incident_id, {"action": {"params": restart, "risk": "high"}}, tmp_path
    )

    async def restarted() -> bool:
        got = (await people.record(incident_id)).plan
        return got is not None and got.action is not None and got.action.params.kind == "restart"

    await until(restarted, timeout=30)
    plan = (await people.record(incident_id)).plan
    assert plan is not None and plan.action is not None
    assert plan.action.summary == CATALOG.describe(plan.action.params)[0]
    assert plan.action.risk is Risk.HIGH  # a person may raise it
    assert f"All alerts of {incident_id}" in plan.action.verify.description
