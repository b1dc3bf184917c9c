"""The decision API: people approve, reject and take over incidents here, never at Temporal.

    GET  /v1/me                      who the credential proves
    GET  /v1/incidents/{id}          the record (what `show` and `approve` display)
    POST /v1/incidents/{id}/{verb}   approve, reject, pause, resume, retry, skip, override,
                                     resolve, assign, note, escalate

Each call carries a person's credential (`Authorization: Bearer`: a configured token or an
OIDC JWT, incidentflow/identity/authn.py); the body is the verb's request without `by` (the
credential says who). The API finds the person's roles for the incident's service
(incidentflow/identity/roles.py), signs the request with its Ed25519 key and sends it as the
workflow update. Approve and reject always reach the workflow, which verifies the signature,
checks the role and records the attempt either way; the owner-only takeover verbs are refused
here (403) without a role. Answers: 200 done; 401 no or bad credential; 403 refused (recorded
by the workflow for approve/reject); 404 no such incident; 409 nothing to decide now; 415/413
as the webhook; 422 a bad body; 503 not configured or Temporal unavailable.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from incidentflow.errors import (
    BadInput,
    ConfigError,
    DecisionRefused,
    IncidentNotFound,
    TemporalUnavailable,
)
from incidentflow.identity import roles as role_rules
from incidentflow.identity.authn import Authenticator, Caller, Unauthenticated
from incidentflow.identity.config import roles_from, signer_from
from incidentflow.identity.roles import RoleTable
from incidentflow.identity.signing import DecisionSigner, request_digest
from incidentflow.ingest import edge
from incidentflow.ingest.incidents import Forbidden, IncidentDesk
from incidentflow.models import (
    DecisionClaims,
    DecisionPath,
    DecisionRequest,
    OverrideRequest,
    StageRequest,
    TakeoverRequest,
)
from incidentflow.settings import Settings

log = logging.getLogger("incidentflow.decisions")

REQUESTS: dict[str, type[BaseModel]] = {
    "approve": DecisionRequest,
    "reject": DecisionRequest,
    "override": OverrideRequest,
    "retry": StageRequest,
    "skip": StageRequest,
    **{
        verb: TakeoverRequest
        for verb in ("pause", "resume", "resolve", "assign", "note", "escalate", "refresh")
    },
}
# Verbs the workflow judges itself (signature, role, policy) and records when refused.
JUDGED_BY_WORKFLOW = frozenset({"approve", "reject"})
# Verbs any authenticated person may use: they add to the record and change nothing that runs.
OPEN_VERBS = frozenset({"note", "escalate", "refresh"})


def team_lookup(settings: Settings) -> Callable[[str | None], str | None]:
    """service -> owning team, from the catalog the agents use (read at the first decision)."""
    owners: dict[str, str] = {}

    def team_of(service: str | None) -> str | None:
        if not owners:
            from incidentflow.context import load_catalog
            from incidentflow.scenario import load_scenario

            # The user's catalog, or the bundle an explicit demo/eval set-up configured; with
            # neither, no team is known and only per-service and `*` roles apply.
            if settings.graph.catalog_path:
                graph = load_catalog(settings.graph.catalog_path)
            elif settings.sources.evidence_bundle:
                graph = load_scenario(settings.sources.evidence_bundle).topology
            else:
                return None
            owners.update({s.name: s.owner for s in graph.services})
        return owners.get(service) if service else None

    return team_of


@dataclass(frozen=True)
class Outcome:
    """What a decision call answers: a status and a JSON body."""

    status: int
    body: dict[str, Any]


class DecisionService:
    """Authenticated person + verb + body -> a signed update, or why not. Shared with Slack."""

    def __init__(
        self,
        *,
        desk: IncidentDesk,
        signer: DecisionSigner | None,
        roles: RoleTable,
        team_of: Callable[[str | None], str | None],
    ) -> None:
        self.desk = desk
        self._signer = signer
        self._roles = roles
        self._team_of = team_of

    async def decide(
        self,
        *,
        identity: str,
        path: DecisionPath,
        incident_id: str,
        verb: str,
        body: dict[str, Any],
    ) -> Outcome:
        """Sign and send one decision for `identity`; the outcome as the API answers it."""
        model = REQUESTS.get(verb)
        if model is None:
            return _error(404, f"unknown verb {verb!r}; one of {', '.join(REQUESTS)}")
        if self._signer is None:
            return _error(
                503, "decisions are not configured: set INCIDENTFLOW_DECISION_SIGNING_KEY"
            )
        if "by" in body or "proof" in body:
            return _error(422, "the credential says who decides: leave out `by` and `proof`")
        try:
            record = await self.desk.record(incident_id)
        except IncidentNotFound as err:
            return _error(404, str(err))
        except TemporalUnavailable as err:
            return _error(503, str(err))
        service = record.incident.origin_service
        found = self._roles.roles(
            identity, service=service, team=self._team_of(service), assigned_owner=record.owner
        )
        if verb not in JUDGED_BY_WORKFLOW and verb not in OPEN_VERBS:
            refused = role_rules.refusal(verb, identity, found, service)
            if refused is not None:
                return _error(403, refused)
        if verb in JUDGED_BY_WORKFLOW and record.plan is not None:
            # Decide on the plan the person saw; without one named, on the plan pending now.
            body = {"plan_id": record.plan.id or None, **body}
            body.setdefault("plan_digest", record.plan.digest)
        try:
            request = model.model_validate({**body, "by": identity})
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return _error(422, f"{where}: {first['msg']}")
        claims = DecisionClaims(
            verb=verb,
            incident_id=incident_id,
            identity=identity,
            path=path,
            at=datetime.now(UTC),
            nonce=secrets.token_hex(16),
            service=service,
            roles=found,
            plan_id=getattr(request, "plan_id", None),
            plan_digest=getattr(request, "plan_digest", None),
            request_digest=request_digest(request),
        )
        signed = request.model_copy(update={"proof": self._signer.sign(claims)})
        try:
            result = await self.desk.send(incident_id, verb, signed)
        except Forbidden as err:
            return _error(403, str(err), recorded=True)
        except DecisionRefused as err:
            return _error(409, str(err))
        except TemporalUnavailable as err:
            return _error(503, str(err))
        log.info("%s %s %s via %s", identity, verb, incident_id, path.value)
        return Outcome(
            200,
            {
                "incident_id": incident_id,
                "verb": verb,
                "by": identity,
                "roles": [r.value for r in found],
                "result": result.model_dump(mode="json"),
            },
        )


def _error(status: int, message: str, **extra: Any) -> Outcome:
    return Outcome(status, {"error": message, **extra})


def _answer(outcome: Outcome) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="incidentflow"'} if outcome.status == 401 else None
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def build_service(settings: Settings, desk: IncidentDesk) -> DecisionService:
    """The decision service the settings configure (signer may be None: answers 503)."""
    return DecisionService(
        desk=desk,
        signer=signer_from(settings.decisions),
        roles=roles_from(settings.decisions),
        team_of=team_lookup(settings),
    )


def decision_routes(
    settings: Settings, service: DecisionService, authn: Authenticator
) -> list[Route]:
    """The API's routes, mounted by the ingest app."""

    async def caller_of(request: Request) -> Caller | Outcome:
        if not authn.configured:
            return _error(
                503,
                "no decision credentials are configured: set INCIDENTFLOW_API_TOKENS or "
                "INCIDENTFLOW_OIDC_ISSUER (docs/decisions.md)",
            )
        try:
            return await authn.caller(request.headers.get("authorization"))
        except Unauthenticated as err:
            return _error(401, str(err))

    async def me(request: Request) -> JSONResponse:
        who = await caller_of(request)
        if isinstance(who, Outcome):
            return _answer(who)
        return JSONResponse({"identity": who.identity, "method": who.method})

    async def read(request: Request) -> JSONResponse:
        who = await caller_of(request)
        if isinstance(who, Outcome):
            return _answer(who)
        try:
            record = await service.desk.record(request.path_params["incident_id"])
        except IncidentNotFound as err:
            return _answer(_error(404, str(err)))
        except TemporalUnavailable as err:
            return _answer(_error(503, str(err)))
        return JSONResponse(record.model_dump(mode="json"))

    async def decide(request: Request) -> JSONResponse:
        # Browsers never decide here: any Origin is refused (CORS origins are the codec's).
        if not edge.origin_allowed(request, []):
            return _answer(_error(403, "browser origins may not send decisions"))
        wrong_type = edge.media_type_problem(request)
        if wrong_type:
            return _answer(_error(415, wrong_type))
        who = await caller_of(request)
        if isinstance(who, Outcome):
            return _answer(who)
        try:
            raw = await edge.read_limited(request, settings.ingest.max_body_bytes)
        except edge.TooLarge:
            return _answer(_error(413, f"body over {settings.ingest.max_body_bytes} bytes"))
        from incidentflow.ingest.app import parse_json

        try:
            body = parse_json(raw) if raw.strip() else {}
        except BadInput as err:
            return _answer(_error(400, str(err)))
        if not isinstance(body, dict):
            return _answer(_error(422, "the body must be a JSON object"))
        outcome = await service.decide(
            identity=who.identity,
            path=DecisionPath.API,
            incident_id=request.path_params["incident_id"],
            verb=request.path_params["verb"],
            body=body,
        )
        return _answer(outcome)

    return [
        Route("/v1/me", me, methods=["GET"]),
        Route("/v1/incidents/{incident_id}", read, methods=["GET"]),
        Route("/v1/incidents/{incident_id}/{verb}", decide, methods=["POST"]),
    ]


def ensure_configured(settings: Settings) -> None:
    """Fail start-up with one line when the decision settings are present but unusable."""
    signer_from(settings.decisions)
    roles_from(settings.decisions)
    try:
        Authenticator(settings.people)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if settings.people.oidc_issuer and not settings.people.oidc_audience:
        raise ConfigError("INCIDENTFLOW_OIDC_ISSUER needs INCIDENTFLOW_OIDC_AUDIENCE too")
    if settings.graph.catalog_path is not None and not Path(settings.graph.catalog_path).is_file():
        raise ConfigError(f"INCIDENTFLOW_CATALOG_PATH={settings.graph.catalog_path} is not a file")
