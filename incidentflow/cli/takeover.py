"""Take over an incident from the command line: pause, resume, override, retry, skip, assign,
note, escalate, resolve; `approve`, which shows the plan, its evidence and its undo first; and
`reject`.

With a person's decision credential (incidentflow/cli/credentials.py) every command goes
through the decision API, which says who you are; without one it goes straight to Temporal
with `--by` as typed, which only the embedded single-user mode believes (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ValidationError

from incidentflow.cli.credentials import DecisionApi, credential_of
from incidentflow.cli.identity import who as logged_in_or
from incidentflow.cli.output import echo
from incidentflow.cli.render import alternative_lines
from incidentflow.client import IncidentClient
from incidentflow.errors import BadInput, DecisionRefused
from incidentflow.identity.canonical import canonical_or_none
from incidentflow.identity.signing import new_key_pair
from incidentflow.models import (
    Approval,
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
    TimelineEvent,
)
from incidentflow.temporal import connect
from incidentflow.visible import one_line as safe

BY_HELP = (
    "Who does it, without a decision credential (default: the logged-in user; recorded as "
    "typed; only the embedded single-user mode believes it). With a credential the API says "
    "who you are."
)
STAGES = click.Choice([s.value for s in Stage])
ARTIFACTS: dict[Stage, tuple[str, type[Any]]] = {
    Stage.INVESTIGATION: ("investigation", Investigation),
    Stage.PLANNING: ("plan", RemediationPlan),
    Stage.POSTMORTEM: ("postmortem", PostMortem),
}


def _json(text: str, file: Path) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:
        raise BadInput(f"{file} is not JSON: {err}") from err


async def _record(incident_id: str) -> IncidentRecord:
    from incidentflow.cli.common import settings

    api = await _api()
    if api is not None:
        return await api.record(incident_id)
    return await IncidentClient(await connect(settings())).record(incident_id)


async def _person_plan(incident_id: str, doc: dict[str, Any], by: str | None) -> RemediationPlan:
    """A params-only plan made whole by the catalog for this incident's alerts."""
    from incidentflow.agents.remediation import VERIFY_WINDOW_SECONDS
    from incidentflow.agents.remediation.person import person_plan

    record = await _record(incident_id)
    current = record.plan.action if record.plan else None
    window = current.verify.window_seconds if current else VERIFY_WINDOW_SECONDS
    return person_plan(doc, record.incident, by=logged_in_or(by), window_seconds=window)


def plan_text(record: IncidentRecord) -> str:
    """What a person must see before approving: the action, its evidence, its undo."""
    plan = record.plan
    if plan is None or plan.action is None:
        text = f"{record.incident.id} has no plan to approve (state: {record.state.value})"
        if plan is not None:
            text += "\n" + "\n".join(
                [f"why:     {safe(plan.rationale)}", *(f"check:   {safe(c)}" for c in plan.checks)]
            )
        return text
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
        *alternative_lines(plan),
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


async def _api() -> DecisionApi | None:
    from incidentflow.cli.common import settings

    cred = await credential_of(settings())
    return DecisionApi(cred) if cred is not None else None


async def _me(api: DecisionApi, by: str | None) -> str:
    """The credential's identity; `--by`, when given, must name the same person."""
    me = await api.whoami()
    if by is not None and canonical_or_none(by) != me:
        raise BadInput(f"--by {by!r} but your credential is {me}'s: leave out --by")
    return me


async def _send(
    incident_id: str, name: str, model: type[Any], by: str | None, **fields: Any
) -> str:
    """Send one takeover verb: through the API with a credential, else straight to Temporal."""
    from incidentflow.cli.common import settings

    api = await _api()
    if api is not None:
        await _me(api, by)
        event = await api.decide(incident_id, name, _jsonable(fields), TimelineEvent)
    else:
        request = model(by=logged_in_or(by), **fields)
        event = await IncidentClient(await connect(settings())).take_over(
            incident_id, name, request
        )
    return f"{incident_id}: {event.summary} (by {event.actor})"


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in fields.items()
    }


async def _decide(
    incident_id: str, verb: str, by: str | None, *, reason: str, confirm: bool
) -> None:
    """approve (after showing the plan) or reject, by whichever path the person has."""
    from incidentflow.cli.common import settings

    api = await _api()
    send: Callable[[dict[str, Any]], Coroutine[Any, Any, Approval]]
    if api is not None:
        who = await _me(api, by)
        record = await api.record(incident_id)

        async def send(fields: dict[str, Any]) -> Approval:
            return await api.decide(incident_id, verb, fields, Approval)

    else:
        who = logged_in_or(by)
        client = await connect(settings())
        record = await IncidentClient(client).record(incident_id)

        async def send(fields: dict[str, Any]) -> Approval:
            request = DecisionRequest(by=who, **fields)
            return await IncidentClient(client).decide(
                incident_id, approve=verb == "approve", request=request
            )

    if record.state is IncidentState.RESOLVED:
        raise DecisionRefused(
            f"{incident_id} resolved on its own: every alert resolved before a decision, so "
            "its plan was withdrawn and nothing will run"
        )
    if record.state.terminal:
        raise DecisionRefused(
            f"{incident_id} has already ended; see `incidentflow show {incident_id}`"
        )
    if record.state is not IncidentState.AWAITING_APPROVAL or record.plan is None:
        raise DecisionRefused(
            f"{incident_id} has no plan waiting for a decision (state: {record.state.value})"
        )
    if verb == "approve":
        echo(plan_text(record))  # what a person approves is always shown, --yes or not
    if confirm and not click.confirm(f"{verb} as {who}?", default=False):
        raise DecisionRefused(f"not {verb}d (answer y, or pass --yes)")
    # The plan the person saw: the workflow refuses the decision if another is pending now.
    decision = await send(
        {"reason": reason, "plan_id": record.plan.id, "plan_digest": record.plan.digest}
    )
    echo(f"{incident_id}: {decision.decision.value} by {decision.by}")


AsyncCommand = Callable[..., Coroutine[Any, Any, None]]


def register(cli: click.Group, run_async: Callable[[AsyncCommand], Callable[..., None]]) -> None:
    """Add the takeover commands to the `incidentflow` group."""

    def simple(name: str, help_text: str, text_help: str, *, text_required: bool) -> None:
        @cli.command(name, help=help_text)
        @click.argument("incident_id")
        @click.option("--by", help=BY_HELP)
        @click.option(
            "--text", "--reason", "text", required=text_required, default="", help=text_help
        )
        @run_async
        async def command(incident_id: str, by: str | None, text: str) -> None:
            echo(await _send(incident_id, name, TakeoverRequest, by, text=text))

    simple("pause", "Hold the incident before its next agent step.", "Why.", text_required=False)
    simple("resume", "Let a paused incident go on.", "Why.", text_required=False)
    simple(
        "refresh",
        "Read the incident's configuration (approval policy and window...) again.",
        "Why.",
        text_required=False,
    )
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
    @click.option("--by", help=BY_HELP)
    @run_async
    async def assign(incident_id: str, owner: str, by: str | None) -> None:
        """Make someone the owner of an incident."""
        echo(await _send(incident_id, "assign", TakeoverRequest, by, text=owner))

    for name, verb in (("retry", "Run a failed stage again."), ("skip", "Go past a stage.")):

        @cli.command(name, help=verb)
        @click.argument("incident_id")
        @click.argument("stage", type=STAGES)
        @click.option("--by", help=BY_HELP)
        @click.option("--reason", default="", help="Why (recorded).")
        @run_async
        async def staged(
            incident_id: str, stage: str, by: str | None, reason: str, _n: str = name
        ) -> None:
            echo(await _send(incident_id, _n, StageRequest, by, stage=Stage(stage), reason=reason))

    @cli.command("override")
    @click.argument("incident_id")
    @click.argument("stage", type=click.Choice([s.value for s in ARTIFACTS]))
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--by", help=BY_HELP)
    @click.option("--reason", default="", help="Why (recorded).")
    @run_async
    async def override(
        incident_id: str, stage: str, file: Path, by: str | None, reason: str
    ) -> None:
        """Replace a stage's artifact with your own (JSON, validated like the agent's).

        A plan may give params only (`{"action": {"params": {...}}}`, docs/remediation.md):
        the catalog writes its summary, risk, verification and undo."""
        from incidentflow.agents.remediation.person import is_params_only

        field, model = ARTIFACTS[Stage(stage)]
        try:
            text = await asyncio.to_thread(file.read_text)
            if Stage(stage) is Stage.PLANNING and is_params_only(doc := _json(text, file)):
                artifact: Any = await _person_plan(incident_id, doc, by)
            else:
                artifact = model.model_validate_json(text)
        except OSError as err:
            raise BadInput(f"cannot read {file}: {err.strerror}") from err
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise BadInput(
                f"{file} is not a valid {field}: {where}: {first['msg']} "
                f"({err.error_count()} problem(s))"
            ) from err
        echo(
            await _send(
                incident_id,
                "override",
                OverrideRequest,
                by,
                stage=Stage(stage),
                reason=reason,
                **{field: artifact},
            )
        )

    @cli.command("pick")
    @click.argument("incident_id")
    @click.argument("number", type=click.IntRange(min=1))
    @click.option("--by", help=BY_HELP)
    @click.option("--reason", default="", help="Why (recorded).")
    @run_async
    async def pick_alternative(incident_id: str, number: int, by: str | None, reason: str) -> None:
        """Make the plan's alternative NUMBER (as `show` lists them) the action to approve."""
        from incidentflow.agents.remediation import pick

        record = await _record(incident_id)
        if record.plan is None:
            raise BadInput(f"{incident_id} has no plan (state: {record.state.value})")
        try:
            plan = pick(record.plan, number, by=logged_in_or(by))
        except ValueError as err:
            raise BadInput(str(err)) from err
        echo(
            await _send(
                incident_id,
                "override",
                OverrideRequest,
                by,
                stage=Stage.PLANNING,
                reason=reason or f"picked alternative {number}",
                plan=plan,
            )
        )

    @cli.command("approve")
    @click.argument("incident_id")
    @click.option("--by", help=BY_HELP)
    @click.option("--reason", default="", help="Why (recorded).")
    @click.option("--yes", is_flag=True, help="Do not ask; approve what is shown.")
    @run_async
    async def approve(incident_id: str, by: str | None, reason: str, yes: bool) -> None:
        """Show the pending plan, its evidence and its undo; approve it once confirmed."""
        await _decide(incident_id, "approve", by, reason=reason, confirm=not yes)

    @cli.command("reject")
    @click.argument("incident_id")
    @click.option("--by", help=BY_HELP)
    @click.option("--reason", required=True, help="Why (recorded).")
    @run_async
    async def reject(incident_id: str, by: str | None, reason: str) -> None:
        """Reject the pending remediation plan; nothing executes."""
        await _decide(incident_id, "reject", by, reason=reason, confirm=False)

    @cli.command("decision-keys")
    def decision_keys() -> None:
        """Print a new Ed25519 key pair for signing decisions (docs/decisions.md)."""
        private, public = new_key_pair()
        echo(f"INCIDENTFLOW_DECISION_SIGNING_KEY={private}")
        echo(f'INCIDENTFLOW_DECISION_VERIFY_KEYS=["{public}"]')
        echo("# the first line to the ingest service only; the second to the agents' worker")
