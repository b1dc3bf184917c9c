"""The routes people use on the ingest service: the decision API and Slack's interactions.

Mounted by the ingest app next to the alert sources. The decision API is in
incidentflow/ingest/decisions.py; the Slack endpoint here turns a verified button click into
the same signed decision (path `slack`) and updates the message with the outcome.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from incidentflow.identity.authn import Authenticator
from incidentflow.identity.canonical import canonical_or_none
from incidentflow.ingest import edge
from incidentflow.ingest.decisions import (
    DecisionService,
    build_service,
    decision_routes,
    ensure_configured,
)
from incidentflow.ingest.incidents import IncidentDesk
from incidentflow.models import DecisionPath
from incidentflow.notify import slack
from incidentflow.settings import Settings

log = logging.getLogger("incidentflow.slack")

# Slack's interaction payloads are small; anything bigger is not one.
MAX_INTERACTION_BYTES = 64 * 1024


def people_routes(settings: Settings, desk: IncidentDesk) -> list[Route]:
    """Decision API routes, and the Slack interaction route when a signing secret is set."""
    ensure_configured(settings)  # a bad key, role table or token list: one line at start
    service = build_service(settings, desk)
    routes = decision_routes(settings, service, Authenticator(settings.people))
    if settings.people.slack_signing_secret is not None:
        routes.append(slack_route(settings, service))
    return routes


def slack_route(settings: Settings, service: DecisionService) -> Route:
    """`POST /v1/slack/interactions`: Slack's Request URL for the decision buttons."""
    secret = (
        settings.people.slack_signing_secret.get_secret_value()
        if settings.people.slack_signing_secret
        else ""
    )
    users = {user: canonical_or_none(name) for user, name in settings.people.slack_users.items()}

    async def interactions(request: Request) -> Response:
        try:
            body = await edge.read_limited(request, MAX_INTERACTION_BYTES)
        except edge.TooLarge:
            return JSONResponse({"error": "too large for a Slack interaction"}, status_code=413)
        if not slack.verified(secret, body, dict(request.headers)):
            return JSONResponse(
                {"error": "missing, wrong or stale Slack signature"}, status_code=401
            )
        try:
            click = slack.parse_click(body)
        except slack.BadInteraction as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        if not click.response_url.startswith(settings.people.slack_response_url_prefix):
            return JSONResponse({"error": "response_url is not Slack's"}, status_code=400)
        # Slack wants its answer within three seconds: decide and update after answering.
        return Response(status_code=200, background=BackgroundTask(decide, click))

    async def decide(click: slack.Click) -> None:
        identity = users.get(click.slack_user)
        if identity is None:
            log.warning("slack user %s is not in INCIDENTFLOW_SLACK_USERS", click.slack_user)
            await _say(
                click,
                {
                    "response_type": "ephemeral",
                    "replace_original": False,
                    "text": f"{click.slack_name}: your Slack user is not mapped to an "
                    "IncidentFlow identity (INCIDENTFLOW_SLACK_USERS); nothing was decided",
                },
            )
            return
        body: dict[str, object] = {"reason": "approved in Slack"}
        if click.verb == "reject":
            body = {"reason": f"rejected in Slack by {identity}"}
        if click.plan_id or click.plan_digest:
            # The plan the message showed: a click never decides a plan nobody saw.
            body |= {"plan_id": click.plan_id, "plan_digest": click.plan_digest}
        outcome = await service.decide(
            identity=identity,
            path=DecisionPath.SLACK,
            incident_id=click.incident_id,
            verb=click.verb,
            body=body,
        )
        if outcome.status != 200:
            recorded = " (recorded)" if outcome.body.get("recorded") else ""
            await _say(
                click,
                {
                    "response_type": "ephemeral",
                    "replace_original": False,
                    "text": f"{click.verb} refused for {identity}{recorded}: "
                    f"{outcome.body.get('error', '')}",
                },
            )
            return
        result = outcome.body["result"]
        decision = result["decision"]
        # An approval that still waits for a second approver keeps the buttons.
        record = await service.desk.record(click.incident_id)
        final = record.approval is not None
        if final:
            text = f"*{click.incident_id}: {decision}* by {identity}"
        else:
            approvers = ", ".join(result.get("approvers") or [identity])
            text = f"*{click.incident_id}: approved by {approvers}*; waiting for another approver"
        await _say(click, slack.outcome_update(click, text, final=final))

    async def _say(click: slack.Click, message: dict[str, object]) -> None:
        try:
            status = await slack.respond(click.response_url, dict(message))
        except OSError as err:
            log.warning("slack response_url failed: %s", err)
            return
        if status >= 300:
            log.warning("slack response_url answered %s", status)

    return Route("/v1/slack/interactions", interactions, methods=["POST"])
