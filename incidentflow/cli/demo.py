"""`incidentflow demo`: fire the bundled scenario at the webhook and follow its incident.

If nothing serves the webhook yet, the demo starts the whole stack itself (as `up` would) and
keeps it running until Ctrl-C, so a newcomer needs exactly one command.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client

from incidentflow.cli import render
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.cli.output import echo
from incidentflow.client import IncidentClient
from incidentflow.errors import BadInput, IncidentFlowError, TemporalUnavailable
from incidentflow.ingest.auth import signed_headers
from incidentflow.models import DecisionRequest, IncidentRecord, IncidentState
from incidentflow.scenario import load_scenario
from incidentflow.settings import Settings
from incidentflow.temporal import connect

# Poll interval while following an incident: fast enough to feel live, cheap for the server.
FOLLOW_EVERY_S = 0.5
HTTP_TIMEOUT_S = 30.0


async def post_payload(settings: Settings, payload: Any, *, source: str) -> dict[str, Any]:
    """POST one webhook payload; the webhook's JSON answer, or one line saying what failed."""
    url = f"{settings.ingest.ingest_url}/v1/alerts/{source}"
    sent = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    # The same credentials the webhook is configured with (when this machine holds them).
    token = settings.ingest.ingest_tokens.get(source) or settings.ingest.ingest_tokens.get("*")
    secret = settings.ingest.ingest_hmac_secrets.get(
        source
    ) or settings.ingest.ingest_hmac_secrets.get("*")
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    elif secret is not None:
        headers |= signed_headers(secret.get_secret_value(), sent)
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
            resp = await http.post(url, content=sent, headers=headers)
    except httpx.ConnectError as err:
        raise TemporalUnavailable(
            f"nothing listens on {settings.ingest.ingest_url}: start it with `incidentflow up` "
            "(or set INCIDENTFLOW_WEBHOOK_URL)"
        ) from err
    except httpx.HTTPError as err:
        raise TemporalUnavailable(f"POST {url} failed: {err}") from err
    try:
        body: dict[str, Any] = resp.json()
    except ValueError:
        body = {"error": resp.text[:200]}
    if resp.status_code >= 400:
        detail = body.get("fields") or body.get("detail") or ""
        raise BadInput(f"the webhook answered {resp.status_code}: {body.get('error')} {detail}")
    return body


def rebase_payloads(payloads: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Copies of the recorded payloads moved in time so the last alert started 30 s ago."""
    starts = [datetime.fromisoformat(a["startsAt"]) for p in payloads for a in p.get("alerts", [])]
    if not starts:
        raise BadInput("the demo scenario has no alerts")
    delta = now - timedelta(seconds=30) - max(starts)
    moved = copy.deepcopy(payloads)
    for payload in moved:
        for alert in payload.get("alerts", []):
            for key in ("startsAt", "endsAt"):
                value = alert.get(key)
                if value and not value.startswith("0001-"):
                    alert[key] = (datetime.fromisoformat(value) + delta).isoformat()
    return moved


async def webhook_alive(settings: Settings) -> bool:
    """True when something answers the webhook's health endpoint."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            return (await http.get(f"{settings.ingest.ingest_url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.asynccontextmanager
async def stack_if_needed(settings: Settings) -> AsyncIterator[bool]:
    """Start the stack unless a webhook already answers; yields whether we started it."""
    if await webhook_alive(settings):
        echo(
            "a webhook already runs: its workers investigate with their own evidence sources "
            "(for the demo's recorded evidence start it with "
            f"INCIDENTFLOW_EVIDENCE_BUNDLE={demo_scenario_path()})"
        )
        yield False
        return
    from incidentflow.cli.stack import Stack

    echo("no IncidentFlow webhook is running: starting the stack (Ctrl-C stops it)")
    async with Stack(settings, say=echo).running():
        yield True


async def find_incident(
    client: Client, settings: Settings, fingerprints: set[str], deadline: float
) -> str:
    """The id of the open incident that took the demo's alerts."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        for inc in await IncidentClient(client).open_incidents(settings.environment):
            if fingerprints & set(inc.fingerprints):
                return inc.id
        await asyncio.sleep(FOLLOW_EVERY_S)
    raise IncidentFlowError(
        "no incident opened in time: see the worker logs under "
        f"{settings.data_dir / 'logs'} and the Temporal UI"
    )


async def follow_incident(
    client: Client, incident_id: str, *, until: set[IncidentState], deadline: float | None
) -> IncidentRecord:
    """Print state changes until the incident reaches one of `until`."""
    loop = asyncio.get_running_loop()
    last: IncidentState | None = None
    while True:
        record = await IncidentClient(client).record(incident_id)
        if record.state is not last:
            echo(f"  {incident_id}: {record.state.value} (waiting for {record.waiting_for})")
            last = record.state
        if record.state in until:
            return record
        if deadline is not None and loop.time() > deadline:
            raise IncidentFlowError(
                f"{incident_id} is still {record.state.value}; follow it with "
                f"`incidentflow show {incident_id}`"
            )
        await asyncio.sleep(FOLLOW_EVERY_S)


async def run_demo(
    settings: Settings, *, approve_as: str | None, follow: bool, plan_timeout: float
) -> None:
    """Fire the demo, follow to the approval gate, optionally approve, follow to the end."""
    bundle = demo_scenario_path()
    scenario = load_scenario(bundle)
    # The demo's workers read the demo's recorded world, and say so: configured, not defaulted.
    settings = settings.replace({"evidence_bundle": settings.sources.evidence_bundle or bundle})
    payloads = rebase_payloads(scenario.alert_payloads, datetime.now(UTC))
    fingerprints = {a["fingerprint"] for p in payloads for a in p["alerts"] if a.get("fingerprint")}
    async with stack_if_needed(settings) as started:
        for payload in payloads:
            answer = await post_payload(settings, payload, source="alertmanager")
            batches = ", ".join(b["batch_id"] for b in answer.get("accepted", []))
            echo(f"sent {len(payload['alerts'])} alert(s): accepted as {batches}")
        client = await connect(settings)
        deadline = asyncio.get_running_loop().time() + plan_timeout
        incident_id = await find_incident(client, settings, fingerprints, deadline)
        echo(f"incident {incident_id} opened; following it")
        gate = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}
        gate |= {s for s in IncidentState if s.terminal}
        record = await follow_incident(client, incident_id, until=gate, deadline=deadline)
        echo("")
        echo(render.record_text(record))
        echo("")
        if record.state is not IncidentState.AWAITING_APPROVAL:
            return
        echo("approve the plan with:")
        echo(f'  incidentflow approve {incident_id} --reason "rollback"')
        echo(f'or reject it: incidentflow reject {incident_id} --reason "why not"')
        if approve_as:
            await IncidentClient(client).decide(
                incident_id,
                approve=True,
                request=DecisionRequest(by=approve_as, reason="approved by `demo --approve-as`"),
            )
            echo(f"approved as {approve_as}")
        if not (follow or started) and not approve_as:
            return
        final = {s for s in IncidentState if s.terminal} | {IncidentState.NEEDS_ATTENTION}
        record = await follow_incident(client, incident_id, until=final, deadline=None)
        echo(f"{incident_id} ended {record.state.value}; the post-mortem draft:")
        echo(f"  incidentflow postmortem {incident_id}")
        if started and not approve_as:
            echo(f"the stack keeps running (UI {settings.temporal.ui_url}); Ctrl-C stops it")
            await asyncio.Event().wait()
