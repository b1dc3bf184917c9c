"""OIDC/JWT people on the decision API (issue 19 item 1), against a loopback issuer.

The issuer is a real HTTP server on loopback serving a discovery document and a JWKS; tokens
are minted with PyJWT and an RSA key made here. The API finds the JWKS through discovery,
verifies signature, issuer, audience and expiry, and takes the person from the `email` claim.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import app_stack, make_settings
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from remediation_flow import awaiting, fire

from incidentflow.identity.signing import new_key_pair
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect

AUDIENCE = "incidentflow"


class Issuer:
    """A loopback OIDC issuer: discovery and JWKS, and tokens signed with its key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                if self.path == "/.well-known/openid-configuration":
                    doc: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    doc = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.close()


async def test_oidc_people_decide_with_their_roles(
    dev_server: DevServer, tmp_path: Path, issuer: Issuer
) -> None:
    settings = make_settings(
        dev_server.address,
        tmp_path / "data",
        decisions_allow_unsigned=False,
        decision_signing_key=new_key_pair()[0],
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        decision_roles={"team-payments": {"owners": ["carol@example.com"]}},
        approval_timeout_seconds=600,
    )
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)
        app = create_app(settings, TemporalSink(client, settings))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:

            async def reject(token: str) -> httpx.Response:
                return await http.post(
                    f"/v1/incidents/{incident_id}/reject",
                    json={"reason": "not during the sale"},
                    headers={"Authorization": f"Bearer {token}"},
                )

            other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            now = int(time.time())
            refused = {
                "expired": issuer.token(email="carol@example.com", iat=now - 900, exp=now - 600),
                "audience": issuer.token(email="carol@example.com", aud="someone-else"),
                "issuer": issuer.token(email="carol@example.com", iss="https://evil.example"),
                "forged": issuer.token(email="carol@example.com", key=other_key),
                "no email": issuer.token(sub="123"),
                "look-alike": issuer.token(email="c\u0430rol@example.com"),
            }
            for why, token in refused.items():
                answer = await reject(token)
                assert answer.status_code == 401, (why, answer.text)
            # A valid token of someone with no role here: authenticated, refused, recorded.
            outsider = await reject(issuer.token(email="dave@example.com"))
            assert outsider.status_code == 403 and outsider.json()["recorded"] is True
            # The owner, spelled as her identity provider likes: the same canonical person.
            done = await reject(issuer.token(email="Carol@Example.COM"))
            assert done.status_code == 200, done.text
            assert done.json()["by"] == "carol@example.com"
            assert done.json()["result"]["decision"] == "rejected"
    assert issuer.fetches >= 2  # discovery, then the JWKS: fetched when a JWT came, not before
