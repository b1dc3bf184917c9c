"""The console's routes: log in, list, read, decide. Mounted by incidentflow/ingest/app.py."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from temporalio.client import Client

from incidentflow.errors import BadInput, IncidentNotFound, TemporalUnavailable
from incidentflow.identity.authn import Authenticator, Unauthenticated
from incidentflow.identity.config import roles_from
from incidentflow.ingest import edge
from incidentflow.ingest.decisions import DecisionService, build_service, team_lookup
from incidentflow.ingest.incidents import IncidentDesk
from incidentflow.models import DecisionPath
from incidentflow.settings import Settings
from incidentflow.web.layout import PANEL_VERBS, login_page, shell
from incidentflow.web.listing import FILTERS, incident_rows, list_page
from incidentflow.web.page import View, incident_page
from incidentflow.web.sessions import COOKIE, SESSION_TTL_S, Session, Sessions
from incidentflow.web.text import text

log = logging.getLogger("incidentflow.web")

# A login or decision form is a few hundred bytes; anything bigger is not one.
MAX_FORM_BYTES = 16 * 1024
STATIC = {"console.css": "text/css; charset=utf-8"}
# Every console answer: no framing by other sites, no scripts or outside resources at all.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def _safe_next(url: str) -> str:
    """Only the console's own pages are followed after login (no open redirect)."""
    return url if url.startswith("/ui/") and not url.startswith("//") else "/ui/"


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded form, one value per field; None when it is too big or not a form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return None
    try:
        raw = await edge.read_limited(request, MAX_FORM_BYTES)
    except edge.TooLarge:
        return None
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _body_for(verb: str, form: dict[str, str]) -> dict[str, Any]:
    """The decision API's body for a verb, from the page's form fields."""
    if verb in ("approve", "reject"):
        body: dict[str, Any] = {"reason": form.get("reason", "")}
        # Bound to the plan the person saw; the workflow refuses it if the plan moved on.
        if form.get("plan_id"):
            body["plan_id"] = form["plan_id"]
        if form.get("plan_digest"):
            body["plan_digest"] = form["plan_digest"]
        return body
    return {"text": form.get("text", "")}


def web_routes(settings: Settings, desk: IncidentDesk, client: Client | None) -> list[Route]:
    """The console's routes; `client` reads visibility for the list (None: list unavailable)."""
    authn = Authenticator(settings.people)
    service: DecisionService = build_service(settings, desk)
    roles = roles_from(settings.decisions)
    team_of = team_lookup(settings)
    sessions = Sessions()
    temporal_ui = settings.temporal.temporal_ui_url or settings.temporal.ui_url

    def session_of(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def to_login(request: Request) -> RedirectResponse:
        return _redirect(f"/ui/login?next={quote(request.url.path)}")

    async def login_form(request: Request) -> HTMLResponse:
        return _html(
            login_page(
                next_url=_safe_next(request.query_params.get("next", "/ui/")),
                oidc=settings.people.oidc_issuer is not None,
            )
        )

    async def login(request: Request) -> Response:
        form = await _form(request)
        oidc = settings.people.oidc_issuer is not None
        if form is None:
            return _html(login_page(error="send the login form", oidc=oidc), 400)
        next_url = _safe_next(form.get("next", "/ui/"))
        if not authn.configured:
            error = (
                "no credentials are configured: INCIDENTFLOW_API_TOKENS or INCIDENTFLOW_OIDC_ISSUER"
            )
            return _html(login_page(error=error, next_url=next_url, oidc=oidc), 503)
        try:
            caller = await authn.caller(f"Bearer {form.get('token', '').strip()}")
        except Unauthenticated as err:
            return _html(login_page(error=str(err), next_url=next_url, oidc=oidc), 401)
        session = sessions.open(caller.identity, caller.method)
        log.info("%s logged in to the console (%s)", caller.identity, caller.method)
        answer = _redirect(next_url)
        answer.set_cookie(
            COOKIE,
            session.id,
            max_age=SESSION_TTL_S,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return answer

    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await _form(request) or {}
        if session is not None and session.csrf_ok(form.get("csrf", "")):
            sessions.close(session.id)
        answer = _redirect("/ui/login")
        answer.delete_cookie(COOKIE, path="/ui")
        return answer

    async def listing(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        filters = {k: request.query_params.get(k, "") for k in FILTERS}
        problem = ""
        rows = []
        try:
            if client is None:
                raise TemporalUnavailable("this ingest service has no Temporal client")
            rows = await incident_rows(client, filters)
        except (BadInput, TemporalUnavailable) as err:
            problem = str(err)
        page = list_page(
            rows, filters, identity=session.identity, csrf=session.csrf, problem=problem
        )
        return _html(page, 400 if problem.startswith(tuple(FILTERS)) else 200)

    async def incident(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        incident_id = request.path_params["incident_id"]
        try:
            record = await desk.record(incident_id)
        except IncidentNotFound as err:
            return _html(_message(session, f"{err}", "Not found"), 404)
        except TemporalUnavailable as err:
            return _html(_message(session, f"{err}", "Temporal unavailable"), 503)
        service_name = record.incident.origin_service
        held = roles.roles(
            session.identity,
            service=service_name,
            team=team_of(service_name),
            assigned_owner=record.owner,
        )
        flash, ok = session.take_flash()
        view = View(
            identity=session.identity,
            # Anyone with a role sees every verb; the API refuses what the role does not allow
            # and the page says why. Without a role the page is read-only.
            verbs=list(PANEL_VERBS) if held else [],
            csrf=session.csrf,
            temporal_ui=temporal_ui,
            namespace=settings.temporal.temporal_namespace,
            flash=flash,
            flash_ok=ok,
        )
        return _html(incident_page(record, view))

    async def decide(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        incident_id = request.path_params["incident_id"]
        verb = request.path_params["verb"]
        back = f"/ui/incidents/{quote(incident_id)}"
        origin = request.headers.get("origin")
        if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
            return _html(_message(session, "decisions come from this page only", "Refused"), 403)
        form = await _form(request)
        if form is None or not session.csrf_ok(form.get("csrf", "")):
            return _html(_message(session, "the form was stale: reload the page", "Refused"), 403)
        if verb not in PANEL_VERBS:
            return _html(_message(session, f"unknown verb {verb!r}", "Refused"), 404)
        outcome = await service.decide(
            identity=session.identity,
            path=DecisionPath.WEB,
            incident_id=incident_id,
            verb=verb,
            body=_body_for(verb, form),
        )
        if outcome.status == 200:
            session.flash = (f"{verb}: done by {session.identity}", True)
        else:
            recorded = " (the attempt is recorded)" if outcome.body.get("recorded") else ""
            session.flash = (f"{verb} refused: {outcome.body.get('error', '')}{recorded}", False)
        return _redirect(back)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404)
        body = resources.files("incidentflow.web").joinpath("static", name).read_bytes()
        headers = {**HEADERS, "Cache-Control": "max-age=300"}
        return Response(body, media_type=STATIC[name], headers=headers)

    async def root(_: Request) -> Response:
        return _redirect("/ui/")

    return [
        Route("/ui", root, methods=["GET"]),
        Route("/ui/", listing, methods=["GET"]),
        Route("/ui/login", login_form, methods=["GET"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        Route("/ui/incidents/{incident_id}", incident, methods=["GET"]),
        Route("/ui/incidents/{incident_id}/{verb}", decide, methods=["POST"]),
    ]


def _message(session: Session, message: str, title: str) -> str:
    body = (
        f"<h1>{text(title)}</h1><p class='flash refused' role='alert'>{text(message)}</p>"
        "<p><a href='/ui/'>All incidents</a></p>"
    )
    return shell(title, body, identity=session.identity, csrf=session.csrf)
