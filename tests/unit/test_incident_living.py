"""Issue 17 items 2 and 3 as plain code: which changes re-plan, and approving what you saw.

The same functions run inside the incident workflow (workflows/living.py,
incidentflow/identity/admission.py); here they are driven without a server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidentflow.identity.admission import UNSIGNED_REFUSED, Pending, admit
from incidentflow.identity.signing import (
    DecisionSigner,
    load_private_key,
    new_key_pair,
    plan_digest,
    request_digest,
)
from incidentflow.models import (
    Alert,
    AlertStatus,
    DecisionClaims,
    DecisionPath,
    DecisionRequest,
    DecisionTrust,
    IncidentUpdate,
    RemediationAction,
    Risk,
    Role,
    StageRequest,
    TakeoverRequest,
    VerifySpec,
)
from incidentflow.models.remediation import RestartParams, ScaleParams
from workflows import living

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LOCAL = DecisionTrust(allow_unsigned=True)


def action(
    params: RestartParams | ScaleParams, *, summary: str = "Restart payments"
) -> RemediationAction:
    return RemediationAction(
        id="act-1",
        incident_id="INC-1",
        params=params,
        risk=Risk.LOW,
        summary=summary,
        verify=VerifySpec(description="alerts resolve"),
        undo=params,
        undo_summary="nothing to undo",
    )


def pending(digest: str | None) -> Pending:
    return Pending(
        incident_id="INC-1",
        service="payments",
        plan_id="INC-1/plan-2",
        plan_digest=digest,
        now=NOW,
    )


# -- item 3: approve what you saw ----------------------------------------------------------


def test_the_digest_covers_what_runs_not_its_prose() -> None:
    restart = action(RestartParams(service="payments"))
    reworded = restart.model_copy(update={"summary": "Roll payments back"})
    scale = action(ScaleParams(service="payments", from_replicas=3, to_replicas=0))
    assert plan_digest(restart) == plan_digest(reworded)
    assert plan_digest(restart) != plan_digest(scale)
    assert plan_digest(None) is None


def test_a_decision_on_a_replaced_plan_is_refused_naming_the_current_one() -> None:
    digest = plan_digest(action(RestartParams(service="payments")))
    now = pending(digest)
    old = DecisionRequest(by="alice", plan_id="INC-1/plan-1", plan_digest="sha256:" + "b" * 64)
    got = admit("approve", old, signal=False, pending=now, trust=LOCAL, seen_nonces=set())
    assert got.refusal is not None
    assert "plan INC-1/plan-1 is no longer current" in got.refusal
    assert "INC-1/plan-2" in got.refusal
    # Same id, other digest: the plan changed under its name (an override, a re-plan).
    same_id = DecisionRequest(by="alice", plan_id="INC-1/plan-2", plan_digest="sha256:" + "c" * 64)
    got = admit("reject", same_id, signal=True, pending=now, trust=LOCAL, seen_nonces=set())
    assert got.refusal and "no longer current" in got.refusal
    ok = DecisionRequest(by="alice", plan_id="INC-1/plan-2", plan_digest=digest)
    assert (
        admit("approve", ok, signal=True, pending=now, trust=LOCAL, seen_nonces=set()).refusal
        is None
    )


def test_a_decision_naming_no_plan_is_refused() -> None:
    # `temporal workflow signal ... approve --input '{"by":"bob"}'` names no plan at all.
    now = pending(plan_digest(action(RestartParams(service="payments"))))
    got = admit(
        "approve",
        DecisionRequest(by="bob"),
        signal=True,
        pending=now,
        trust=LOCAL,
        seen_nonces=set(),
    )
    assert got.refusal and got.refusal.startswith("name the plan you decide on")
    assert "INC-1/plan-2" in got.refusal


# -- issue 19, workflow side: the takeover verbs that change what runs ---------------------


@pytest.fixture(scope="module")
def signer() -> DecisionSigner:
    private, _ = new_key_pair()
    return DecisionSigner(load_private_key(private))


def signed_pause(
    signer: DecisionSigner, roles: list[Role], *, verb: str = "pause"
) -> TakeoverRequest:
    req = TakeoverRequest(by="olga", text="looking")
    claims = DecisionClaims(
        verb=verb,
        incident_id="INC-1",
        identity="olga",
        path=DecisionPath.API,
        at=NOW,
        nonce="n-0000042",
        service="payments",
        roles=roles,
        request_digest=request_digest(req),
    )
    return req.model_copy(update={"proof": signer.sign(claims)})


@pytest.mark.parametrize("verb", sorted(["pause", "resume", "resolve", "assign"]))
def test_takeover_verbs_unsigned_are_refused(signer: DecisionSigner, verb: str) -> None:
    trust = DecisionTrust(verify_keys=[signer.public])
    got = admit(
        verb,
        TakeoverRequest(by="mallory", text="x"),
        signal=True,
        pending=pending(None),
        trust=trust,
        seen_nonces=set(),
    )
    assert got.refusal == UNSIGNED_REFUSED
    assert got.by == "mallory" and got.path is DecisionPath.SIGNAL


def test_a_signed_takeover_needs_the_owner_role(signer: DecisionSigner) -> None:
    trust = DecisionTrust(verify_keys=[signer.public])
    owner = admit(
        "pause",
        signed_pause(signer, [Role.OWNER]),
        signal=False,
        pending=pending(None),
        trust=trust,
        seen_nonces=set(),
    )
    assert owner.refusal is None and owner.authenticated and owner.by == "olga"
    approver = admit(
        "pause",
        signed_pause(signer, [Role.APPROVER]),
        signal=False,
        pending=pending(None),
        trust=trust,
        seen_nonces=set(),
    )
    assert approver.refusal and "owner" in approver.refusal
    # A proof signed for pause cannot be replayed as resolve.
    replayed = admit(
        "resolve",
        signed_pause(signer, [Role.OWNER]),
        signal=True,
        pending=pending(None),
        trust=trust,
        seen_nonces=set(),
    )
    assert replayed.refusal and "signed for pause" in replayed.refusal


def test_a_stage_request_is_judged_without_a_plan() -> None:
    req = StageRequest(by="Olga\u200b", stage="planning")
    got = admit(
        "skip", req, signal=False, pending=pending("sha256:x"), trust=LOCAL, seen_nonces=set()
    )
    assert got.refusal is None and got.by == "olga"


# -- item 2: which changes re-plan ---------------------------------------------------------


def alert(fp: str, status: AlertStatus = AlertStatus.FIRING, service: str = "payments") -> Alert:
    return Alert(
        fingerprint=fp,
        source="alertmanager",
        name=f"Alert{fp}",
        status=status,
        labels={"service": service},
        starts_at=NOW,
    )


def update(alerts: list[Alert], **kw: object) -> IncidentUpdate:
    return IncidentUpdate.model_validate(
        {"incident_id": "INC-1", "alerts": alerts, "reasons": [], **kw}
    )


def test_material_changes() -> None:
    known = {"a": alert("a"), "b": alert("b")}

    def changes(upd: IncidentUpdate) -> list[str]:
        return living.material_changes(upd, alerts=known, services=["payments"], origin="payments")

    assert changes(update([], origin_service="db")) == ["origin moved from payments to db"]
    assert changes(update([], services=["payments", "db"])) == ["services added: db"]
    assert changes(update([alert("c", service="db")])) == ["1 firing alert(s) joined: Alertc"]
    # A known alert delivered again, or resolved alerts joining fresh, change nothing.
    assert changes(update([alert("a")])) == []
    assert changes(update([alert("z", AlertStatus.RESOLVED)])) == []
    # Some resolve while others fire: the story changed.
    assert changes(update([alert("a", AlertStatus.RESOLVED)])) == ["1 alert(s) resolved: Alerta"]
    # Every alert resolved: the settle rule withdraws the plan instead of re-planning.
    both = update([alert("a", AlertStatus.RESOLVED), alert("b", AlertStatus.RESOLVED)])
    assert changes(both) == []


def test_plan_ids_and_summary() -> None:
    assert living.plan_id("INC-1", 3) == "INC-1/plan-3"
    assert living.summary(["x", "y", "x"]) == "x; y"
