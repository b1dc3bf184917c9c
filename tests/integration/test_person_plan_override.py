"""Issue 18 item 3 on the real dev server: a person's plan is params; the workflow writes the
words (summary, risk, verification, undo) from the catalog and refuses params out of bounds."""

from __future__ import annotations

import pytest
from conftest import Stack
from remediation_flow import awaiting, fire, until

from incidentflow.agents.remediation.person import person_plan
from incidentflow.catalog import CATALOG
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.models import Engine, OverrideRequest, Risk, ScaleParams, Stage


async def test_a_persons_params_become_the_catalogs_plan_and_bad_params_are_refused(
    stack: Stack,
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
