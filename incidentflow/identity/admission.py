"""Whether the incident workflow believes a decision: the one check every attempt goes through.

Pure (the workflow passes in the time, its state and its configuration), so it runs inside
workflow code and is unit-tested without a server. A decision counts only when:
- it carries the API's proof, the proof verifies with a configured public key, and it was
  signed for this verb, this incident, this exact request, within `max_age_seconds`, with a
  nonce not seen before, by the identity it names, for the incident's current service, with
  a role that allows the verb, and (approve and reject) for the plan now pending; or
- it is unsigned and the configuration allows unsigned local decisions (the embedded
  single-user mode), and `by` has a canonical form.
Approve and reject must name the plan they decide on (its id, or its digest): a decision on a
plan that is no longer current is refused naming the current one. The takeover verbs that
change what runs (pause, resume, override, retry, skip, resolve, assign) go through the same
check without the plan part. Everything else is refused with the reason, and the workflow
records the attempt either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidentflow.identity import roles
from incidentflow.identity.canonical import NotAnIdentity, canonical
from incidentflow.identity.signing import request_digest, verify
from incidentflow.models.decisions import DecisionPath, DecisionTrust
from incidentflow.models.remediation import DecisionRequest
from incidentflow.models.takeover import OverrideRequest, StageRequest, TakeoverRequest

UNSIGNED_REFUSED = (
    "unsigned decision refused: decide through the IncidentFlow API with your credential "
    "(`incidentflow approve` with INCIDENTFLOW_API_TOKEN set, or Slack; docs/decisions.md)"
)


# Verbs that decide on a plan: they must name it, and it must be the current one.
PLAN_VERBS = frozenset({"approve", "reject"})
# Takeover verbs that change what runs: believed only when signed (or local where allowed).
GUARDED_VERBS = frozenset({"pause", "resume", "override", "retry", "skip", "resolve", "assign"})


# Every request a person sends: who they say they are, and the API's proof (or none).
Claimed = DecisionRequest | TakeoverRequest | StageRequest | OverrideRequest


def _plan_of(req: Claimed) -> tuple[str | None, str | None]:
    return getattr(req, "plan_id", None), getattr(req, "plan_digest", None)


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
    req: Claimed,
    *,
    signal: bool,
    pending: Pending,
    trust: DecisionTrust,
    seen_nonces: set[str],
) -> Admission:
    """Judge one attempt at `verb` (see the module docstring)."""
    if req.proof is None:
        return _unsigned(verb, req, signal=signal, pending=pending, trust=trust)
    claims = req.proof.claims
    plan_id, digest = _plan_of(req)
    base = Admission(
        by=req.by,
        identity=None,
        authenticated=False,
        path=DecisionPath.SIGNAL if signal else claims.path,
        plan_id=plan_id,
        plan_digest=digest,
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
    if problem is None and verb in PLAN_VERBS:
        problem = _plan_problem(claims.plan_id, claims.plan_digest, pending)
    return _refuse(base, problem) if problem else base


def _unsigned(
    verb: str, req: Claimed, *, signal: bool, pending: Pending, trust: DecisionTrust
) -> Admission:
    plan_id, digest = _plan_of(req)
    base = Admission(
        by=req.by,
        identity=None,
        authenticated=False,
        path=DecisionPath.SIGNAL if signal else DecisionPath.LOCAL,
        plan_id=plan_id,
        plan_digest=digest,
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
        plan_id=plan_id,
        plan_digest=digest,
    )
    problem = _plan_problem(plan_id, digest, pending) if verb in PLAN_VERBS else None
    return _refuse(admitted, problem) if problem else admitted


def current_plan(pending: Pending) -> str:
    """How a refusal names the plan that is pending now."""
    return f"{pending.plan_id or '?'} ({(pending.plan_digest or 'no action')[:19]})"


def _plan_problem(plan_id: str | None, digest: str | None, pending: Pending) -> str | None:
    """Why a decision naming (plan_id, digest) is not on the pending plan, or None."""
    if pending.plan_id is None and pending.plan_digest is None:
        return None  # nothing pending to name (the workflow refuses the decision itself)
    if not plan_id and not digest:
        return (
            f"name the plan you decide on (plan_id and plan_digest): the current plan is "
            f"{current_plan(pending)}; `incidentflow show` it, then decide again"
        )
    seen = None
    if plan_id and plan_id != pending.plan_id:
        seen = f"plan {plan_id}"
    elif digest and digest != pending.plan_digest:
        seen = f"the plan you saw ({digest[:19]})"
    if seen is None:
        return None
    return (
        f"{seen} is no longer current; the current plan is {current_plan(pending)}: "
        "look at it, then decide again"
    )


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
