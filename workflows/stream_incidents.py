"""How the stream reaches its incidents: start each under a free id, signal joins to it, and
carry on when an incident has ended (closed, cancelled, terminated) before the signal.

Deterministic module: only workflow APIs (child starts and external signals, both recorded in
the stream's history), called from AlertStreamWorkflow.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from incidentflow.models import (
        AlertMember,
        AlertsResolved,
        CorrelationResult,
        Detection,
        Incident,
        IncidentInput,
        IncidentUpdate,
        OpenIncident,
        StreamConfig,
    )
    from workflows.incident import IncidentWorkflow
    from workflows.incident_start import incident_start_fields
    from workflows.stream_index import capped_members

# Ids tried for one incident before a random suffix: `INC-<date>-<hash>`, then `-2`, `-3`...
# (the same alerts firing again the same day after their incident closed).
MAX_RECURRENCES = 50


def recurrence_id(base: str, n: int) -> str:
    """The id of the n-th incident (n >= 2) that correlation named `base`."""
    return base if n <= 1 else f"{base}-{n}"


def _acknowledge(child: asyncio.Future[Any]) -> None:
    if not child.cancelled() and child.exception() is not None:
        workflow.logger.info("incident workflow ended: %s", child.exception())


def _as(inp: IncidentInput, incident: Incident) -> IncidentInput:
    correlation = inp.correlation.model_copy(update={"new_incidents": [incident]})
    return inp.model_copy(update={"incident": incident, "correlation": correlation})


async def start_incident(inp: IncidentInput, *, task_queue: str) -> Incident:
    """Start the incident's workflow; returns the incident as started (its id may differ).

    Incident ids are never reused. An id already taken is either still running (a reset or
    restarted stream proposes the same incident again: its alerts are delivered to it) or has
    ended (its alerts fired again after it closed: this recurrence takes the next free id).
    """
    base = inp.incident
    for n in range(1, MAX_RECURRENCES + 1):
        incident = base.model_copy(update={"id": recurrence_id(base.id, n)})
        try:
            child = await workflow.start_child_workflow(
                IncidentWorkflow.run,
                _as(inp, incident),
                id=incident.id,
                task_queue=task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                **incident_start_fields(incident),
            )
        except WorkflowAlreadyStartedError:
            again = IncidentUpdate(
                incident_id=incident.id,
                alerts=incident.alerts,
                reasons=["correlation proposed this incident again; its alerts are delivered"],
                services=incident.services,
            )
            if await signal_joined(again) is None:
                workflow.logger.info("incident %s is open; delivered its alerts", incident.id)
                return incident
            workflow.logger.info("incident %s has ended; the recurrence takes a new id", base.id)
            continue
        # The incident reports its own end by signal (that survives our continue-as-new); its
        # completion here is only acknowledged, so a failed child warns nobody twice.
        child.add_done_callback(_acknowledge)
        return incident
    fresh = base.model_copy(update={"id": f"{base.id}-{workflow.uuid4().hex[:6]}"})
    await workflow.start_child_workflow(
        IncidentWorkflow.run,
        _as(inp, fresh),
        id=fresh.id,
        task_queue=task_queue,
        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        **incident_start_fields(fresh),
    )
    return fresh


async def signal_joined(update: IncidentUpdate) -> str | None:
    """Deliver joined alerts; None when delivered, else why not (the incident has ended)."""
    handle = workflow.get_external_workflow_handle_for(IncidentWorkflow.run, update.incident_id)
    try:
        await handle.signal(IncidentWorkflow.alerts_joined, update)
    except FailureError as err:
        return str(err) or type(err).__name__
    return None


async def signal_resolved(msg: AlertsResolved) -> str | None:
    """Tell the incident all its alerts resolved; None when delivered, else why not."""
    handle = workflow.get_external_workflow_handle_for(IncidentWorkflow.run, msg.incident_id)
    try:
        await handle.signal(IncidentWorkflow.alerts_resolved, msg)
    except FailureError as err:
        return str(err) or type(err).__name__
    return None


async def open_incident(
    incident: Incident,
    correlation: CorrelationResult,
    detections: list[Detection],
    *,
    config: StreamConfig,
    stream_workflow_id: str,
) -> OpenIncident:
    """Start the workflow of a new incident; its entry for the stream's open-incident index."""
    fingerprints = {a.fingerprint for a in incident.alerts}
    # Only this incident's slice of the batch: a storm must not copy every alert into every
    # incident's input.
    inp = IncidentInput(
        incident=incident,
        detections=[d for d in detections if d.alert.fingerprint in fingerprints],
        correlation=CorrelationResult(
            new_incidents=[incident],
            dropped=[d for d in correlation.dropped if d.alert.fingerprint in fingerprints],
        ),
        stream_workflow_id=stream_workflow_id,
        agent_queue=config.agent_queue,
        remediation_queue=config.remediation_queue,
    )
    started = await start_incident(inp, task_queue=config.workflow_queue)
    return OpenIncident(
        id=started.id,
        services=incident.services,
        fingerprints=sorted(fingerprints),
        opened_at=incident.opened_at,
        origin_service=incident.origin_service,
        members=capped_members(
            {
                d.alert.fingerprint: AlertMember(service=d.service, name=d.alert.name)
                for d in detections
                if d.alert.fingerprint in fingerprints
            }
        ),
    )
