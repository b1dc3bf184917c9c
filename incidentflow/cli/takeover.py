"""Take over an incident from the command line: pause, resume, override, retry, skip, assign,
note, escalate, resolve; and `approve`, which shows the plan, its evidence and its undo first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from incidentflow.cli.identity import BY_HELP, who
from incidentflow.cli.output import echo
from incidentflow.errors import BadInput, DecisionRefused
from incidentflow.models import (
    DecisionRequest,
    IncidentRecord,
    IncidentState,
    Investigation,
    OverrideRequest,
    PostMortem,
    RemediationPlan,
    Stage,
    StageRequest,
    TakeoverRequest,
)
from incidentflow.temporal import connect
from incidentflow.visible import one_line as safe
from workflows.incident import IncidentWorkflow

STAGES = click.Choice([s.value for s in Stage])
ARTIFACTS: dict[Stage, tuple[str, type[Any]]] = {
    Stage.INVESTIGATION: ("investigation", Investigation),
    Stage.PLANNING: ("plan", RemediationPlan),
    Stage.POSTMORTEM: ("postmortem", PostMortem),
}


def plan_text(record: IncidentRecord) -> str:
    """What a person must see before approving: the action, its evidence, its undo."""
    plan = record.plan
    if plan is None or plan.action is None:
        return f"{record.incident.id} has no plan to approve (state: {record.state.value})"
    act = plan.action
    out = [
        f"{record.incident.id}  {safe(record.incident.title)}",
        f"action:  {safe(act.summary)}",
        f"risk:    {act.risk.value}   id: {safe(act.id)}",
        f"runs on: {safe(act.executor)}"
        + ("  (records only, changes nothing)" if act.executor == "dry-run" else ""),
        f"verify:  {safe(act.verify.description)} (within {act.verify.window_seconds} s)",
        f"undo:    {safe(act.undo_summary)}",
        f"why:     {safe(plan.rationale)}",
        "evidence:",
    ]
    known = {e.id: e for e in record.investigation.evidence} if record.investigation else {}
    for eid in plan.evidence_ids:
        ev = known.get(eid)
        out.append(f"  {safe(eid)}: {safe(ev.finding) if ev else '(not in the investigation)'}")
    for d in record.decisions:
        out.append(
            f"so far: {d.decision.value} by {safe(d.by)}"
            + (f" ({safe(d.reason)})" if d.reason else "")
        )
    return "\n".join(out)


def _update_of(name: str) -> Any:
    return getattr(IncidentWorkflow, name)


async def _send(incident_id: str, name: str, request: Any) -> str:
    from incidentflow.cli import ops, settings

    event = await ops.take_over(await connect(settings()), incident_id, _update_of(name), request)
    return f"{incident_id}: {event.summary} (by {event.actor})"


AsyncCommand = Callable[..., Coroutine[Any, Any, None]]


def register(cli: click.Group, run_async: Callable[[AsyncCommand], Callable[..., None]]) -> None:
    """Add the takeover commands to the `incidentflow` group."""

    def simple(name: str, help_text: str, text_help: str, *, text_required: bool) -> None:
        @cli.command(name, help=help_text)
        @click.argument("incident_id")
        @click.option("--by", default=None, help=BY_HELP)
        @click.option(
            "--text", "--reason", "text", required=text_required, default="", help=text_help
        )
        @run_async
        async def command(incident_id: str, by: str | None, text: str) -> None:
            echo(await _send(incident_id, name, TakeoverRequest(by=who(by), text=text)))

    simple("pause", "Hold the incident before its next agent step.", "Why.", text_required=False)
    simple("resume", "Let a paused incident go on.", "Why.", text_required=False)
    simple(
        "note", "Add a note to the timeline and the post-mortem.", "The note.", text_required=True
    )
    simple(
        "escalate",
        "Call for help: recorded and sent to every notifier.",
        "Why.",
        text_required=False,
    )
    simple(
        "resolve",
        "It is fixed: stop remediating, draft the post-mortem, close.",
        "How.",
        text_required=False,
    )

    @cli.command("assign")
    @click.argument("incident_id")
    @click.option("--to", "owner", required=True, help="The new owner.")
    @click.option("--by", default=None, help=BY_HELP)
    @run_async
    async def assign(incident_id: str, owner: str, by: str | None) -> None:
        """Make someone the owner of an incident."""
        echo(await _send(incident_id, "assign", TakeoverRequest(by=who(by), text=owner)))

    for name, verb in (("retry", "Run a failed stage again."), ("skip", "Go past a stage.")):

        @cli.command(name, help=verb)
        @click.argument("incident_id")
        @click.argument("stage", type=STAGES)
        @click.option("--by", default=None, help=BY_HELP)
        @click.option("--reason", default="", help="Why (recorded).")
        @run_async
        async def staged(
            incident_id: str, stage: str, by: str | None, reason: str, _n: str = name
        ) -> None:
            req = StageRequest(by=who(by), stage=Stage(stage), reason=reason)
            echo(await _send(incident_id, _n, req))

    @cli.command("override")
    @click.argument("incident_id")
    @click.argument("stage", type=click.Choice([s.value for s in ARTIFACTS]))
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--by", default=None, help=BY_HELP)
    @click.option("--reason", default="", help="Why (recorded).")
    @run_async
    async def override(
        incident_id: str, stage: str, file: Path, by: str | None, reason: str
    ) -> None:
        """Replace a stage's artifact with your own (JSON, validated like the agent's)."""
        field, model = ARTIFACTS[Stage(stage)]
        try:
            artifact = model.model_validate_json(await asyncio.to_thread(file.read_text))
        except OSError as err:
            raise BadInput(f"cannot read {file}: {err.strerror}") from err
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise BadInput(
                f"{file} is not a valid {field}: {where}: {first['msg']} "
                f"({err.error_count()} problem(s))"
            ) from err
        req = OverrideRequest(by=who(by), stage=Stage(stage), reason=reason, **{field: artifact})
        echo(await _send(incident_id, "override", req))

    @cli.command("approve")
    @click.argument("incident_id")
    @click.option("--by", default=None, help=BY_HELP)
    @click.option("--reason", default="", help="Why (recorded).")
    @click.option("--yes", is_flag=True, help="Do not ask; approve what is shown.")
    @run_async
    async def approve(incident_id: str, by: str | None, reason: str, yes: bool) -> None:
        """Show the pending plan, its evidence and its undo; approve it once confirmed."""
        from incidentflow.cli import ops, settings

        by = who(by)
        client = await connect(settings())
        record = await ops.get_record(client, incident_id)
        if record.state is IncidentState.RESOLVED:
            raise DecisionRefused(
                f"{incident_id} resolved on its own: every alert resolved before approval, so "
                "its plan was withdrawn and nothing will run"
            )
        if record.state.terminal:
            raise DecisionRefused(
                f"{incident_id} has already ended; see `incidentflow show {incident_id}`"
            )
        if record.state is not IncidentState.AWAITING_APPROVAL or record.plan is None:
            raise DecisionRefused(
                f"{incident_id} has no plan waiting for approval (state: {record.state.value})"
            )
        echo(plan_text(record))
        if not yes and not click.confirm(f"approve as {by}?", default=False):
            raise DecisionRefused("not approved (answer y, or pass --yes)")
        decision = await ops.decide(
            client, incident_id, approve=True, request=DecisionRequest(by=by, reason=reason)
        )
        echo(f"{incident_id}: {decision.decision.value} by {decision.by}")
