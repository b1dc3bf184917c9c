"""Hostile requests to the decision API and Slack's endpoint: never a 5xx but 503.

Random verbs, incident ids, bodies, content types, origins and credentials (none, wrong,
valid, JWT-shaped garbage) on `/v1/me`, `/v1/incidents/{id}` and `/v1/incidents/{id}/{verb}`,
and form bodies with forged, stale and missing Slack signatures on `/v1/slack/interactions`,
against the real ingest app on the dev server (incidents that do not exist: 404).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from conftest import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentflow.identity.signing import new_key_pair
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect

EXAMPLES = 1500
# 307: the router sends a path with a trailing slash to the one without.
ALLOWED = {200, 307, 400, 401, 403, 404, 405, 409, 413, 415, 422, 503}
SLACK_SECRET = "fuzz-slack-secret"
VERBS = ["approve", "reject", "pause", "override", "retry", "skip", "note", "resolve", "x", ""]

text = st.text(max_size=40)
ids = st.one_of(
    st.sampled_from(["INC-20000101-abcdef", "alerts-prod", "%00", "..", "a" * 300]), text
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), text),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode()),
)
tokens = st.sampled_from(
    ["", "Bearer tok-alice", "Bearer nope", "Bearer a.b.c", "Basic x", "Bearer "]
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["decide", "read", "me", "slack"]))
    headers: dict[str, str] = {}
    auth = draw(tokens)
    if auth:
        headers["Authorization"] = auth
    if draw(st.booleans()):
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
        )
    if draw(st.integers(0, 9)) == 0:
        headers["Origin"] = "https://evil.example"
    body = draw(bodies)
    if kind == "slack":
        stamp = str(int(time.time()) - draw(st.sampled_from([0, 0, 400, -400])))
        secret = draw(st.sampled_from([SLACK_SECRET, SLACK_SECRET, "guess"]))
        mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        if draw(st.booleans()):
            headers["X-Slack-Request-Timestamp"] = stamp
            headers["X-Slack-Signature"] = "v0=" + mac.hexdigest()
        return "POST", "/v1/slack/interactions", body, headers
    incident = quote(draw(ids), safe="")
    if kind == "me":
        return draw(st.sampled_from(["GET", "POST"])), "/v1/me", body, headers
    if kind == "read":
        return "GET", f"/v1/incidents/{incident}", body, headers
    return "POST", f"/v1/incidents/{incident}/{draw(st.sampled_from(VERBS))}", body, headers


def test_hostile_requests_to_decisions_never_crash(dev_server: DevServer, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    config = make_settings(
        dev_server.address,
        tmp_path,
        decisions_allow_unsigned=False,
        decision_signing_key=new_key_pair()[0],
        api_tokens={"alice": "tok-alice"},
        decision_roles={"*": {"approvers": ["alice"], "owners": ["alice"]}},
        slack_signing_secret=SLACK_SECRET,
        slack_users={"U1": "alice"},
    )
    client = loop.run_until_complete(connect(config))
    app = create_app(config, TemporalSink(client, config))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")
    seen: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests())
    def one(case: tuple[str, str, bytes, dict[str, str]]) -> None:
        method, path, body, headers = case
        resp = loop.run_until_complete(http.request(method, path, content=body, headers=headers))
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        assert resp.status_code in ALLOWED, (method, path, resp.status_code, resp.text[:300])

    try:
        one()
        assert seen.get(401, 0) > 100 and seen.get(404, 0) > 20, seen
        assert seen.get(200, 0) > 10, seen  # /v1/me with alice's token, at least
    finally:
        loop.run_until_complete(http.aclose())
        loop.close()
