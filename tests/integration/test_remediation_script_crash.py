"""SIGKILL the remediation worker after a runbook script acted and before the ledger recorded
it (issue 14: the script ran twice): the retry runs the script again with the same
INCIDENTFLOW_ACTION_KEY and INCIDENTFLOW_ACTION_RESUMED=1, after the first run has finished,
and a script written as docs/remediation.md says acts once.
"""

from __future__ import annotations

import signal
from pathlib import Path

from conftest import app_stack
from remediation_flow import awaiting, fire, until, workers  # noqa: F401  (a fixture)
from temporalio.client import Client
from test_durability import Procs, attempts_of, worker_env

from incidentflow.catalog import CATALOG
from incidentflow.client import IncidentClient
from incidentflow.models import (
    DecisionRequest,
    IncidentState,
    OverrideRequest,
    RemediationPlan,
    RunbookScriptParams,
    Stage,
    TakeoverRequest,
    VerifySpec,
)
from incidentflow.settings import Settings
from workflows.incident import IncidentWorkflow

# A runbook as docs/remediation.md asks: it records its key once it has acted and, run again
# for a key it already acted on, does nothing. After acting it waits (a rollout, say) while
# the file `slow` exists: the test kills the worker in that wait.
RUNBOOK = """#!/bin/sh
here=$(dirname "$0")
echo "$INCIDENTFLOW_ACTION_KEY attempt=$INCIDENTFLOW_ACTION_ATTEMPT \
resumed=$INCIDENTFLOW_ACTION_RESUMED" >> "$here/../invocations"
if grep -qxF "$INCIDENTFLOW_ACTION_KEY" "$here/../done" 2>/dev/null; then
  echo "already flushed for $INCIDENTFLOW_ACTION_KEY"
  exit 0
fi
echo "flushed $*" >> "$here/../effects"
echo "$INCIDENTFLOW_ACTION_KEY" >> "$here/../done"
while [ -e "$here/../slow" ]; do sleep 0.1; done
echo "flushed"
"""


def _script_plan(plan: RemediationPlan) -> RemediationPlan:
    params = RunbookScriptParams(script="flush.sh", args={"queue": "payments"})
    summary, undo, undo_summary = CATALOG.describe(params)
    assert plan.action is not None
    action = plan.action.model_copy(
        update={
            "id": "act-person-flush-1",
            "params": params,
            "summary": summary,
            "undo": undo,
            "undo_summary": undo_summary,
            "verify": VerifySpec(window_seconds=600, description="alerts resolve"),
        }
    )
    return plan.model_copy(update={"action": action, "alternatives": [], "rationale": "flush"})


async def test_worker_killed_after_the_script_acted_acts_once(
    settings: Settings,
    client: Client,
    workers: Procs,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "flush.sh").write_text(RUNBOOK)
    (runbooks / "flush.sh").chmod(0o755)
    slow, effects, invocations = (tmp_path / n for n in ("slow", "effects", "invocations"))
    slow.touch()
    env = worker_env(
        settings,
        INCIDENTFLOW_EXECUTOR="script",
        INCIDENTFLOW_EXECUTOR_SCRIPT_DIR=str(runbooks),
    )
    first = workers.start("remediation", env, "remediation-1")
    async with app_stack(settings, client, queues=("default",)) as stack:
        incident_id, _ = await fire(stack)
        record = await awaiting(stack, incident_id)
        assert record.plan is not None
        await IncidentClient(client).take_over(
            incident_id,
            "override",
            OverrideRequest(
                by="erin", stage=Stage.PLANNING, plan=_script_plan(record.plan), reason="flush"
            ),
        )

        async def script_planned() -> bool:
            rec = await IncidentClient(client).record(incident_id)
            action = rec.plan.action if rec.plan else None
            return rec.state is IncidentState.AWAITING_APPROVAL and (
                action is not None and action.id == "act-person-flush-1"
            )

        await until(script_planned)
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="erin")
        )

        async def acted() -> bool:
            return effects.exists()

        await until(acted)
        first.send_signal(signal.SIGKILL)  # acted, not yet recorded: the script still runs
        first.wait()
        workers.start("remediation", env, "remediation-2")
        slow.unlink()  # the first run's script finishes; only then may the retry run

        async def verifying() -> bool:
            rec = await IncidentClient(client).record(incident_id)
            return rec.state is IncidentState.VERIFYING

        await until(verifying, timeout=120)
        await IncidentClient(client).take_over(
            incident_id, "resolve", TakeoverRequest(by="erin", text="ok")
        )
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
    assert final.state is IncidentState.CLOSED
    assert await attempts_of(client, incident_id, "execute_action") >= 2
    assert effects.read_text().splitlines() == ["flushed --queue=payments"]  # once, not twice
    runs = invocations.read_text().splitlines()
    key = "act-person-flush-1:do"
    assert runs[0] == f"{key} attempt=1 resumed=0", runs
    assert runs[1:] and all(r.startswith(key) and r.endswith("resumed=1") for r in runs[1:]), runs
    assert len(final.results) == 1 and "already flushed" in final.results[0].output
