"""Signed decisions (issue 19 items 2 and 4) as plain code: what the workflow believes.

The same `admit` runs inside the incident workflow; here it is driven without a server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidentflow.identity.admission import UNSIGNED_REFUSED, Admission, Pending, admit
from incidentflow.identity.roles import RoleTable
from incidentflow.identity.signing import (
    DecisionSigner,
    load_private_key,
    new_key_pair,
    request_digest,
    verify,
)
from incidentflow.models import (
    DecisionClaims,
    DecisionPath,
    DecisionRequest,
    DecisionTrust,
    Role,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
PENDING = Pending(
    incident_id="INC-1",
    service="payments",
    plan_id="act-1",
    plan_digest="sha256:" + "a" * 64,
    now=NOW,
)


@pytest.fixture(scope="module")
def signer() -> DecisionSigner:
    private, _ = new_key_pair()
    return DecisionSigner(load_private_key(private))


def signed(
    signer: DecisionSigner,
    *,
    verb: str = "approve",
    identity: str = "alice",
    roles: list[Role] | None = None,
    at: datetime = NOW,
    nonce: str = "n-0000001",
    service: str | None = "payments",
    digest: str | None = PENDING.plan_digest,
    reason: str = "",
) -> DecisionRequest:
    req = DecisionRequest(by=identity, reason=reason, plan_id="act-1", plan_digest=digest)
    claims = DecisionClaims(
        verb=verb,
        incident_id="INC-1",
        identity=identity,
        path=DecisionPath.API,
        at=at,
        nonce=nonce,
        service=service,
        roles=[Role.APPROVER] if roles is None else roles,
        plan_id="act-1",
        plan_digest=digest,
        request_digest=request_digest(req),
    )
    return req.model_copy(update={"proof": signer.sign(claims)})


def judge(
    req: DecisionRequest,
    trust: DecisionTrust,
    *,
    verb: str = "approve",
    signal: bool = False,
    seen: set[str] | None = None,
) -> Admission:
    return admit(verb, req, signal=signal, pending=PENDING, trust=trust, seen_nonces=seen or set())


def trusting(signer: DecisionSigner, **kw: object) -> DecisionTrust:
    return DecisionTrust.model_validate({"verify_keys": [signer.public], **kw})


def test_a_signed_decision_with_the_role_counts(signer: DecisionSigner) -> None:
    got = judge(signed(signer), trusting(signer))
    assert got.refusal is None
    assert (got.identity, got.authenticated, got.path) == ("alice", True, DecisionPath.API)
    assert got.plan_digest == PENDING.plan_digest


def test_unsigned_is_refused_by_update_and_by_signal(signer: DecisionSigner) -> None:
    # The first bypass: `temporal workflow signal ... approve --input '{"by":"bob"}'`.
    for signal in (False, True):
        got = judge(DecisionRequest(by="bob"), trusting(signer), signal=signal)
        assert got.refusal == UNSIGNED_REFUSED
        assert got.by == "bob" and got.identity is None and not got.authenticated
        assert got.path is (DecisionPath.SIGNAL if signal else DecisionPath.LOCAL)


def test_unsigned_is_believed_only_where_allowed_and_then_canonical(
    signer: DecisionSigner,
) -> None:
    local = trusting(signer, allow_unsigned=True)
    assert judge(DecisionRequest(by=" Alice\u200b"), local).identity == "alice"
    assert "look-alike" in (judge(DecisionRequest(by="\u0430lice"), local).refusal or "")


def test_a_signature_from_another_key_is_refused(signer: DecisionSigner) -> None:
    other = DecisionSigner(load_private_key(new_key_pair()[0]))
    got = judge(signed(other), trusting(signer))
    assert got.refusal and "unknown key" in got.refusal and "claimed to be alice" in got.refusal
    assert not got.authenticated
    # The same proof with a key id forged to name ours does not verify either.
    forged = signed(other)
    assert forged.proof is not None
    proof = forged.proof.model_copy(update={"key_id": signer.key_id})
    got = judge(forged.model_copy(update={"proof": proof}), trusting(signer))
    assert got.refusal and "does not verify" in got.refusal


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"by": "bob"}, "changed after it was signed"),
        ({"reason": "edited"}, "changed after it was signed"),
        ({"plan_digest": "sha256:" + "b" * 64}, "changed after it was signed"),
    ],
)
def test_a_request_changed_after_signing_is_refused(
    signer: DecisionSigner, change: dict[str, str], expected: str
) -> None:
    got = judge(signed(signer).model_copy(update=change), trusting(signer))
    assert got.refusal and expected in got.refusal


def test_tampered_claims_do_not_verify(signer: DecisionSigner) -> None:
    req = signed(signer)
    assert req.proof is not None
    claims = req.proof.claims.model_copy(update={"identity": "bob"})
    proof = req.proof.model_copy(update={"claims": claims})
    assert verify(proof, [signer.public]) == "the signature does not verify"


def test_verb_incident_age_replay_service_and_plan_are_checked(signer: DecisionSigner) -> None:
    trust = trusting(signer)
    cases = [
        (judge(signed(signer, verb="reject"), trust), "signed for reject"),
        (judge(signed(signer, at=NOW - timedelta(minutes=10)), trust), "older than 300 s"),
        (judge(signed(signer), trust, seen={"n-0000001"}), "already used"),
        (judge(signed(signer, service="checkout"), trust), "service is now payments"),
        (judge(signed(signer, digest="sha256:" + "c" * 64), trust), "no longer current"),
    ]
    for got, expected in cases:
        assert got.refusal and expected in got.refusal, got.refusal
        assert got.authenticated  # refused, but who tried is known


def test_roles_decide_who_may_approve_and_reject(signer: DecisionSigner) -> None:
    trust = trusting(signer)
    # An identity on no list (mallory) can neither approve nor reject.
    for verb in ("approve", "reject"):
        got = judge(signed(signer, verb=verb, identity="mallory", roles=[]), trust, verb=verb)
        assert got.refusal and "may not" in got.refusal and got.by == "mallory"
    # The owner may reject but not approve.
    owner = [Role.OWNER]
    assert judge(signed(signer, roles=owner), trust).refusal
    assert judge(signed(signer, verb="reject", roles=owner), trust, verb="reject").refusal is None


def test_role_table_from_configuration_and_catalog_owner() -> None:
    table = RoleTable(
        {
            "team-payments": {"approvers": ["Alice", "bob"], "owners": ["carol"]},
            "checkout": {"approvers": ["dave"]},
            "*": {"owners": ["sre-lead"]},
        }
    )
    assert table.roles("ALICE", service="payments", team="team-payments") == [Role.APPROVER]
    assert table.roles("carol", service="payments", team="team-payments") == [Role.OWNER]
    assert table.roles("dave", service="payments", team="team-payments") == []
    assert table.roles("dave", service="checkout", team="team-storefront") == [Role.APPROVER]
    assert table.roles("sre-lead", service="x", team=None) == [Role.OWNER]
    assert table.roles("erin", service="x", team=None, assigned_owner="Erin") == [Role.OWNER]
    assert table.roles("\u0430lice", service="payments", team="team-payments") == []
    with pytest.raises(ValueError, match="not a role"):
        RoleTable({"x": {"admins": ["a"]}})
    with pytest.raises(ValueError, match="look-alike"):
        RoleTable({"x": {"approvers": ["\u0430lice"]}})
