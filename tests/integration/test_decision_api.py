"""The decision API on the real dev server (issue 19 items 1, 2, 4 and 7).

People decide through the ingest service with their own token; the workflow believes only
what the API signed. Each bypass tried against `incidentflow up` is tried again here and
refused and recorded: a raw unsigned `approve` signal claiming to be bob, the same person
twice under another spelling for a two-person approval, an identity on no list (mallory)
approving and rejecting, and a captured signed decision sent again as a raw signal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import Stack, app_stack, make_settings
from pydantic import BaseModel
from remediation_flow import awaiting, fire

from incidentflow.cli.render import record_text
from incidentflow.client import IncidentClient
from incidentflow.errors import DecisionRefused
from incidentflow.identity.signing import new_key_pair
from incidentflow.ingest.app import create_app
from incidentflow.ingest.incidents import TemporalDesk
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import (
    Decision,
    DecisionPath,
    DecisionRequest,
    IncidentRecord,
    IncidentState,
    Stage,
    StageRequest,
    TakeoverRequest,
)
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect
from workflows.incident import IncidentWorkflow

TOKENS = {"alice": "tok-alice", "bob": "tok-bob", "mallory": "tok-mallory", "carol": "tok-carol"}
# The demo's incident is on `payments`, which the bundled catalog gives to team-payments.
ROLES = {"team-payments": {"approvers": ["alice", "bob"], "owners": ["carol"]}}


class RecordingDesk(TemporalDesk):
    """The real Temporal desk, keeping what it sent (to replay a signed decision later)."""

    def __init__(self, desk: TemporalDesk) -> None:
        super().__init__(desk._client)
        self.sent: list[tuple[str, BaseModel]] = []

    async def send(self, incident_id: str, verb: str, request: BaseModel) -> BaseModel:
        self.sent.append((verb, request))
        return await super().send(incident_id, verb, request)


def signed_settings(dev_server: DevServer, tmp_path: Path, **extra: object) -> Settings:
    private, _ = new_key_pair()
    return make_settings(
        dev_server.address,
        tmp_path / "data",
        decisions_allow_unsigned=False,
        decision_signing_key=private,
        api_tokens=TOKENS,
        decision_roles=ROLES,
        approval_timeout_seconds=600,
        **extra,
    )


class Api:
    """The decision API of a real ingest app, as a person's client calls it."""

    def __init__(self, http: httpx.AsyncClient, desk: RecordingDesk) -> None:
        self.http = http
        self.desk = desk

    async def post(
        self, incident_id: str, verb: str, token: str | None, body: object
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            f"/v1/incidents/{incident_id}/{verb}", json=body, headers=headers
        )


@pytest.fixture
async def signed_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Stack, Api]]:
    settings = signed_settings(dev_server, tmp_path, approval_two_person=["medium", "high"])
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        desk = RecordingDesk(TemporalDesk(client))
        app = create_app(settings, TemporalSink(client, settings), desk=desk)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield stack, Api(http, desk)


async def record_of(stack: Stack, incident_id: str) -> IncidentRecord:
    return await IncidentClient(stack.client).record(incident_id)


async def test_only_signed_decisions_by_people_with_the_role_count(
    signed_stack: tuple[Stack, Api],
) -> None:
    stack, api = signed_stack
    incident_id, _ = await fire(stack)
    await awaiting(stack, incident_id)
    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)

    # Bypass 1: a raw unsigned signal claiming to be bob, and the same as an update.
    await handle.signal(IncidentWorkflow.approve_signal, DecisionRequest(by="bob"))
    with pytest.raises(DecisionRefused, match="unsigned decision refused"):
        await IncidentClient(stack.client).decide(
            incident_id, approve=True, request=DecisionRequest(by="bob")
        )

    # No credential, a wrong one, and a body that names someone else.
    assert (await api.post(incident_id, "approve", None, {})).status_code == 401
    assert (await api.post(incident_id, "approve", "tok-nobody", {})).status_code == 401
    named = await api.post(incident_id, "approve", "tok-mallory", {"by": "alice"})
    assert named.status_code == 422

    # Bypass 3: mallory, on no list, may neither approve nor reject; both are recorded.
    for verb, body in (("approve", {}), ("reject", {"reason": "no"})):
        refused = await api.post(incident_id, verb, "tok-mallory", body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["recorded"] is True and "may not" in refused.json()["error"]
    # ... nor pause (an owner's verb): refused by the API itself.
    assert (await api.post(incident_id, "pause", "tok-mallory", {})).status_code == 403

    # alice approves: one of two.
    first = await api.post(incident_id, "approve", "tok-alice", {"reason": "looks right"})
    assert first.status_code == 200, first.text
    assert first.json()["result"]["approvers"] == ["alice"]
    # Bypass 2: alice again counts for nothing (her identity, whatever the spelling).
    again = await api.post(incident_id, "approve", "tok-alice", {})
    assert again.status_code == 403 and "already approved" in again.json()["error"]
    # Bypass 4: the captured signed decision, replayed as a raw signal, is refused.
    verb, captured = api.desk.sent[-1]
    assert verb == "approve" and isinstance(captured, DecisionRequest)
    await handle.signal(IncidentWorkflow.approve_signal, captured)
    # ... and a tampered copy (another reason under alice's signature) does not verify.
    await handle.signal(
        IncidentWorkflow.approve_signal, captured.model_copy(update={"reason": "edited"})
    )
    assert (await record_of(stack, incident_id)).state is IncidentState.AWAITING_APPROVAL

    # bob, a second different approver: the action runs.
    second = await api.post(incident_id, "approve", "tok-bob", {})
    assert second.status_code == 200, second.text
    final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.approval is not None and final.approval.decision is Decision.APPROVED
    assert final.approval.approvers == ["alice", "bob"]

    # Item 7: every attempt is in the record, with who, path, plan digest and outcome.
    attempts = [(d.decision, d.by, d.authenticated, d.path) for d in final.decisions]
    assert attempts == [
        (Decision.REFUSED, "bob", False, DecisionPath.SIGNAL),
        (Decision.REFUSED, "bob", False, DecisionPath.LOCAL),
        (Decision.REFUSED, "mallory", True, DecisionPath.API),
        (Decision.REFUSED, "mallory", True, DecisionPath.API),
        (Decision.APPROVED, "alice", True, DecisionPath.API),
        (Decision.REFUSED, "alice", True, DecisionPath.API),
        (Decision.REFUSED, "alice", True, DecisionPath.SIGNAL),
        (Decision.REFUSED, "alice", True, DecisionPath.SIGNAL),
        (Decision.APPROVED, "bob", True, DecisionPath.API),
    ]
    reasons = [d.reason for d in final.decisions]
    assert "already used" in reasons[6] and "changed after it was signed" in reasons[7]
    assert final.plan is not None and final.plan.action is not None
    digests = {d.plan_digest for d in final.decisions if d.authenticated}
    assert len(digests) == 1 and next(iter(digests), "").startswith("sha256:")
    shown = record_text(final)
    assert "Decision attempts (9, refused ones included)" in shown
    assert "rejection refused" in shown and "mallory (authenticated) via api" in shown
    assert final.postmortem is not None
    assert "Decision attempts (9)" in final.postmortem.markdown
    assert "bob (claimed, not verified) via signal" in final.postmortem.markdown


async def test_the_owner_rejects_and_the_record_is_readable_through_the_api(
    signed_stack: tuple[Stack, Api],
) -> None:
    stack, api = signed_stack
    incident_id, _ = await fire(stack)
    await awaiting(stack, incident_id)
    read = await api.http.get(
        f"/v1/incidents/{incident_id}", headers={"Authorization": "Bearer tok-carol"}
    )
    assert read.status_code == 200 and read.json()["state"] == "awaiting_approval"
    assert (await api.http.get(f"/v1/incidents/{incident_id}")).status_code == 401
    # carol owns payments: she may not approve, but she may reject.
    assert (await api.post(incident_id, "approve", "tok-carol", {})).status_code == 403
    done = await api.post(incident_id, "reject", "tok-carol", {"reason": "not now"})
    assert done.status_code == 200, done.text
    assert done.json()["result"]["decision"] == "rejected"
    assert (await api.post("INC-20000101-abcdef", "reject", "tok-carol", {})).status_code == 404


async def test_local_unsigned_mode_compares_canonical_identities(
    dev_server: DevServer, tmp_path: Path
) -> None:
    """Bypass 2 in the embedded single-user mode: `Alice`, `alice` + ZWSP, Cyrillic `\u0430`."""
    settings = make_settings(
        dev_server.address,
        tmp_path / "data",
        approval_policy={"low": ["alice", "bob"], "medium": ["alice", "bob"], "high": ["*"]},
        approval_two_person=["medium", "high"],
        approval_timeout_seconds=600,
    )
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)

        async def approve(by: str) -> None:
            await IncidentClient(client).decide(
                incident_id, approve=True, request=DecisionRequest(by=by)
            )

        await approve("alice")
        for same in ("Alice", "alice\u200b", " ALICE "):
            with pytest.raises(DecisionRefused, match="already approved"):
                await approve(same)
        with pytest.raises(DecisionRefused, match="mixes scripts"):
            await approve("\u0430lice")
        with pytest.raises(DecisionRefused, match="may not approve"):
            await approve("mallory")
        record = await record_of(stack, incident_id)
        assert record.state is IncidentState.AWAITING_APPROVAL and record.approval is None
        await approve("Bob")
        handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
        final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.approval is not None and final.approval.approvers == ["alice", "bob"]
    outcomes = [(d.decision, d.path, d.authenticated) for d in final.decisions]
    assert outcomes.count((Decision.REFUSED, DecisionPath.LOCAL, False)) == 5


async def test_takeover_verbs_that_change_what_runs_believe_only_signed_requests(
    signed_stack: tuple[Stack, Api],
) -> None:
    stack, api = signed_stack
    incident_id, _ = await fire(stack)
    await awaiting(stack, incident_id)
    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    # Raw, unsigned, straight to Temporal: by signal (recorded) and by update (refused).
    await handle.signal(IncidentWorkflow.pause_signal, TakeoverRequest(by="mallory"))
    await handle.signal(
        IncidentWorkflow.skip_signal, StageRequest(by="mallory", stage=Stage.EXECUTION)
    )
    with pytest.raises(DecisionRefused, match="unsigned decision refused"):
        await IncidentClient(stack.client).take_over(
            incident_id, "resolve", TakeoverRequest(by="mallory")
        )
    record = await record_of(stack, incident_id)
    assert not record.paused and record.state is IncidentState.AWAITING_APPROVAL
    refused = [d for d in record.decisions if d.decision is Decision.REFUSED]
    claimed = [(d.by, d.path, d.reason.split(":")[0]) for d in refused]
    assert claimed == [
        ("mallory", DecisionPath.SIGNAL, "pause refused"),
        ("mallory", DecisionPath.SIGNAL, "skip refused"),
        ("mallory", DecisionPath.LOCAL, "resolve refused"),
    ]
    assert all(not d.authenticated for d in refused)
    # The note stays open: it changes nothing that runs.
    await IncidentClient(stack.client).take_over(
        incident_id, "note", TakeoverRequest(by="x", text="hi")
    )
    # carol, the owner, pauses through the API: signed, believed, recorded as her.
    paused = await api.post(incident_id, "pause", "tok-carol", {"text": "looking"})
    assert paused.status_code == 200, paused.text
    record = await record_of(stack, incident_id)
    assert record.paused
    assert any(e.actor == "carol" and e.summary == "paused: looking" for e in record.timeline)
