"""The console on the real dev server and workers (issue 20 items 1, 2, 4 and 5), over HTTP.

A person logs in with their token; the list comes from Temporal visibility with its filters;
the page shows the demo incident; decisions from the page go through the decision service
(signed, role-checked, recorded with path `web`) and the page shows refusals with the reason.
A hostile alert (HTML, script, ANSI) posted through the webhook reaches the page escaped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import Stack, app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from remediation_flow import awaiting, fire
from test_decision_api import signed_settings
from test_decision_oidc import AUDIENCE, Issuer

from incidentflow.identity.signing import new_key_pair
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import Decision, DecisionPath, IncidentState
from incidentflow.temporal import DevServer, connect

CSRF = re.compile(r"name='csrf' value='([^']+)'")


@pytest.fixture
async def console(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Stack, People]]:
    settings = signed_settings(dev_server, tmp_path, approval_two_person=[])
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        app = create_app(settings, TemporalSink(client, settings))
        async with People(httpx.ASGITransport(app=app)) as people:
            yield stack, people


class People:
    """One browser per person (its own cookie jar) on the same app."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        self._transport = transport
        self._open: list[httpx.AsyncClient] = []

    def browser(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=self._transport, base_url="http://ingest")
        self._open.append(http)
        return http

    async def log_in(self, token: str) -> httpx.AsyncClient:
        http = self.browser()
        answer = await http.post("/ui/login", data={"token": token, "next": "/ui/"})
        assert answer.status_code == 303, answer.text
        assert "httponly" in answer.headers["set-cookie"].lower()
        assert "samesite=strict" in answer.headers["set-cookie"].lower()
        return http

    async def __aenter__(self) -> People:
        return self

    async def __aexit__(self, *_: object) -> None:
        for http in self._open:
            await http.aclose()


async def page(http: httpx.AsyncClient, url: str) -> str:
    answer = await http.get(url)
    assert answer.status_code == 200, answer.text
    assert "script-src" not in answer.headers["content-security-policy"]
    return answer.text


async def press(http: httpx.AsyncClient, incident_id: str, verb: str, **fields: str) -> str:
    """Submit one decision form as the browser would; the page it lands on."""
    form = await page(http, f"/ui/incidents/{incident_id}")
    csrf = CSRF.search(form)
    assert csrf, "no form on the page"
    plan = dict(re.findall(r"name='(plan_id|plan_digest)' value='([^']*)'", form))
    answer = await http.post(
        f"/ui/incidents/{incident_id}/{verb}", data={"csrf": csrf.group(1), **plan, **fields}
    )
    assert answer.status_code == 303, answer.text
    return await page(http, answer.headers["location"])


async def test_log_in_list_read_and_decide_from_the_page(
    console: tuple[Stack, People],
) -> None:
    stack, people = console
    incident_id, _ = await fire(stack)
    await awaiting(stack, incident_id)

    # Not logged in: the login form; a wrong token: one line, no session.
    stranger = people.browser()
    assert (await stranger.get("/ui/")).headers["location"].startswith("/ui/login")
    wrong = await stranger.post("/ui/login", data={"token": "tok-nobody"})
    assert wrong.status_code == 401 and "unknown token" in wrong.text

    alice = await people.log_in("tok-alice")
    listed = await page(alice, "/ui/")
    assert incident_id in listed and "awaiting_approval" in listed and "a decision" in listed
    filtered = await page(alice, "/ui/?state=closed")
    assert incident_id not in filtered
    assert incident_id in await page(alice, "/ui/?state=awaiting_approval&service=payments")
    bad = await alice.get("/ui/?service=x'%20OR%20true")
    assert bad.status_code == 400 and "service filter" in bad.text

    # mallory holds no role: she reads the page, and has no buttons.
    mallory = await people.log_in("tok-mallory")
    read_only = await page(mallory, f"/ui/incidents/{incident_id}")
    assert "Read-only" in read_only and "id='do-approve'" not in read_only
    # A forged form without the session's CSRF token is refused before anything is sent.
    forged = await alice.post(f"/ui/incidents/{incident_id}/approve", data={"csrf": "guess"})
    assert forged.status_code == 403

    # carol owns payments: approve is refused by the workflow, recorded, and the page says why.
    carol = await people.log_in("tok-carol")
    refused = await press(carol, incident_id, "approve")
    assert "approve refused:" in refused and "may not approve" in refused
    assert "(the attempt is recorded)" in refused
    noted = await press(carol, incident_id, "note", text="<b>looking</b>")
    assert "note: done by carol" in noted and "&lt;b&gt;looking&lt;/b&gt;" in noted

    # alice approves from the page: the action runs and the incident closes.
    done = await press(alice, incident_id, "approve", reason="from the page")
    assert "approve: done by alice" in done
    record = await wait_for_state(stack.client, incident_id, {IncidentState.CLOSED}, timeout=90)
    attempts = [(d.decision, d.by, d.path) for d in record.decisions]
    assert attempts == [
        (Decision.REFUSED, "carol", DecisionPath.WEB),
        (Decision.APPROVED, "alice", DecisionPath.WEB),
    ]
    closed = await page(alice, f"/ui/incidents/{incident_id}")
    assert "has ended" in closed and "<article class='markdown'>" in closed
    assert "id='do-approve'" not in closed

    # Logging out ends the session.
    form = await page(alice, "/ui/")
    csrf = CSRF.search(form)
    assert csrf
    await alice.post("/ui/logout", data={"csrf": csrf.group(1)})
    assert (await alice.get("/ui/")).status_code == 303


async def test_a_hostile_alert_reaches_the_page_escaped(
    console: tuple[Stack, People],
) -> None:
    stack, people = console
    payloads = copy.deepcopy(demo_payloads())
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31mred\x1b[0m"
    for payload in payloads:
        for alert in payload["alerts"]:
            alert["annotations"]["summary"] = hostile
    for payload in payloads:
        assert (await stack.post_alertmanager(payload)).status_code == 202
    incident_id = await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )
    await awaiting(stack, incident_id)
    alice = await people.log_in("tok-alice")
    shown = await page(alice, f"/ui/incidents/{incident_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "\\x1b[31mred" in shown
    assert "<script" not in shown and "<img" not in shown and "\x1b" not in shown


async def test_an_oidc_token_logs_in_and_the_owner_rejects_from_the_page(
    dev_server: DevServer, tmp_path: Path
) -> None:
    issuer = Issuer()
    try:
        settings = make_settings(
            dev_server.address,
            tmp_path / "data",
            decisions_allow_unsigned=False,
            decision_signing_key=new_key_pair()[0],
            approval_timeout_seconds=600,
            oidc_issuer=issuer.url,
            oidc_audience=AUDIENCE,
            decision_roles={"team-payments": {"owners": ["carol@example.com"]}},
        )
        client = await connect(settings)
        async with app_stack(settings, client) as stack:
            incident_id, _ = await fire(stack)
            await awaiting(stack, incident_id)
            app = create_app(settings, TemporalSink(client, settings))
            async with People(httpx.ASGITransport(app=app)) as people:
                form = await people.browser().get("/ui/login")
                assert "ID token from your OIDC issuer" in form.text
                forged = await people.browser().post(
                    "/ui/login", data={"token": issuer.token(email="carol@example.com", aud="x")}
                )
                assert forged.status_code == 401 and "invalid token" in forged.text
                carol = await people.log_in(issuer.token(email="Carol@Example.com"))
                assert "carol@example.com" in await page(carol, "/ui/")
                done = await press(carol, incident_id, "reject", reason="not during the sale")
                assert "reject: done by carol@example.com" in done
            record = await wait_for_state(stack.client, incident_id, {IncidentState.REJECTED})
            assert [(d.by, d.path) for d in record.decisions] == [
                ("carol@example.com", DecisionPath.WEB)
            ]
    finally:
        issuer.close()
