"""Whether the incident workflow believes a decision: the one check every attempt goes through.

Pure (the workflow passes in the time, its state and its configuration), so it runs inside
workflow code and is unit-tested without a server. A decision counts only when:
- it carries the API's proof, the proof verifies with a configured public key, and it was
  signed for this verb, this incident, this exact request, within `max_age_seconds`, with a
  nonce not seen before, by the identity it names, for the incident's current service, with
  a role that allows the verb, and (when both are known) for the plan now pending; or
- it is unsigned and the configuration allows unsigned local decisions (the embedded
  single-user mode), and `by` has a canonical form.
Everything else is refused with the reason, and the workflow records the attempt either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidentflow.identity import roles
from incidentflow.identity.canonical import NotAnIdentity, canonical
from incidentflow.identity.signing import request_digest, verify
from incidentflow.models.decisions import DecisionPath, DecisionTrust
from incidentflow.models.remediation import DecisionRequest

UNSIGNED_REFUSED = (
    "unsigned decision refused: decide through the IncidentFlow API with your credential "
    "(`incidentflow approve` with INCIDENTFLOW_API_TOKEN set, or Slack; docs/decisions.md)"
)


@dataclass(frozen=True)
class Admission:
    """Who the attempt is recorded as, how it came, and why it is refused (None: it counts)."""

    by: str
    identity: str | None
    authenticated: bool
    path: DecisionPath
    plan_id: str | None
    plan_digest: str | None
    nonce: str | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class Pending:
    """What the incident holds when the attempt arrives."""

    incident_id: str
    service: str | None
    plan_id: str | None
    plan_digest: str | None
    now: datetime


def admit(
    verb: str,
    req: DecisionRequest,
    *,
    signal: bool,
    pending: Pending,
    trust: DecisionTrust,
    seen_nonces: set[str],
) -> Admission:
    """Judge one approve or reject attempt (see the module docstring)."""
    if req.proof is None:
        return _unsigned(req, signal=signal, pending=pending, trust=trust)
    claims = req.proof.claims
    base = Admission(
        by=req.by,
        identity=None,
        authenticated=False,
        path=DecisionPath.SIGNAL if signal else claims.path,
        plan_id=req.plan_id,
        plan_digest=req.plan_digest,
    )
    bad = verify(req.proof, trust.verify_keys)
    if bad is not None:
        return _refuse(base, f"{bad}; claimed to be {claims.identity} via {claims.path.value}")
    # From here the claims are the API's word: the identity is authenticated.
    base = Admission(
        by=claims.identity,
        identity=claims.identity,
        authenticated=True,
        # A signed decision arriving as a raw signal did not come through the API now.
        path=DecisionPath.SIGNAL if signal else claims.path,
        plan_id=claims.plan_id,
        plan_digest=claims.plan_digest,
        nonce=claims.nonce,
    )
    age = (pending.now - claims.at).total_seconds()
    problem = None
    if claims.verb != verb:
        problem = f"signed for {claims.verb}, sent as {verb}"
    elif claims.incident_id != pending.incident_id:
        problem = f"signed for {claims.incident_id}, not {pending.incident_id}"
    elif claims.request_digest != request_digest(req):
        problem = "the request was changed after it was signed"
    elif abs(age) > trust.max_age_seconds:
        problem = (
            f"signed {int(age)} s ago; a decision older than {trust.max_age_seconds} s is "
            "refused (replayed, or clocks apart)"
        )
    elif claims.nonce in seen_nonces:
        problem = "this signed decision was already used (a replay)"
    elif _canonical(req.by) != claims.identity:
        problem = f"sent as {req.by!r} but signed for {claims.identity}"
    elif claims.service != pending.service:
        problem = (
            f"signed for service {claims.service or '-'}; the incident's service is now "
            f"{pending.service or '-'}: decide again"
        )
    if problem is None:
        problem = roles.refusal(verb, claims.identity, claims.roles, pending.service)
    if problem is None:
        problem = _plan_problem(claims.plan_digest, pending)
    return _refuse(base, problem) if problem else base


def _unsigned(
    req: DecisionRequest, *, signal: bool, pending: Pending, trust: DecisionTrust
) -> Admission:
    base = Admission(
        by=req.by,
        identity=None,
        authenticated=False,
        path=DecisionPath.SIGNAL if signal else DecisionPath.LOCAL,
        plan_id=req.plan_id,
        plan_digest=req.plan_digest,
    )
    if not trust.allow_unsigned:
        return _refuse(base, UNSIGNED_REFUSED)
    try:
        who = canonical(req.by)
    except NotAnIdentity as err:
        return _refuse(base, str(err))
    admitted = Admission(
        by=who,
        identity=who,
        authenticated=False,
        path=base.path,
        plan_id=req.plan_id,
        plan_digest=req.plan_digest,
    )
    problem = _plan_problem(req.plan_digest, pending)
    return _refuse(admitted, problem) if problem else admitted


def _plan_problem(digest: str | None, pending: Pending) -> str | None:
    if digest and pending.plan_digest and digest != pending.plan_digest:
        return (
            f"decided on a plan that is no longer pending; the current plan is "
            f"{pending.plan_id or '?'} ({pending.plan_digest[:19]})"
        )
    return None


def _canonical(name: str) -> str | None:
    try:
        return canonical(name)
    except NotAnIdentity:
        return None


def _refuse(base: Admission, why: str) -> Admission:
    return Admission(
        by=base.by,
        identity=base.identity,
        authenticated=base.authenticated,
        path=base.path,
        plan_id=base.plan_id,
        plan_digest=base.plan_digest,
        nonce=base.nonce,
        refusal=why,
    )
