"""10,000 malformed or hostile requests to every endpoint: no 5xx but 503, still answering after.

Alert sources and the codec (`/codec/decode`, `/codec/encode`), GET endpoints, CORS
preflights; any content type, browser origins, bearer and signature headers, against an open
app and one with credentials configured (issue 14, finding 4: garbage on the codec was a 500).
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
from conftest import make_settings
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload, Payloads

from incidentflow.codec import ENCODING
from incidentflow.ingest import auth
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect

EXAMPLES = 10_000
UI_ORIGIN = "http://127.0.0.1:8233"
ALLOWED = {200, 202, 204, 400, 401, 403, 404, 405, 413, 415, 422, 503}

VALID: dict[str, dict[str, Any]] = {
    "alertmanager": {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "A", "service": "payments"},
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    },
    "grafana": {
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "G"}, "startsAt": "2026-01-01T00:00:00Z"}
        ],
    },
    "pagerduty": {
        "routing_key": "k",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "h", "severity": "error"},
    },
    "generic": {"alerts": [{"name": "X", "labels": {"service": "cart"}}]},
}

hostile_text = st.one_of(
    st.text(max_size=50),
    # Huge strings, built cheaply: generating 20 kB of random text per example is slow.
    st.builds(
        lambda chunk, n: chunk * n,
        st.sampled_from(["a", "💥", "\u202e", "\\", '"', "é"]),
        st.integers(min_value=5_000, max_value=40_000),
    ),
    st.sampled_from(["\ud800", "\x00", "\u202e", "💥" * 100, "0001-01-01", "NaN", ""]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid payload of some source with one part replaced, dropped, or made hostile."""
    source = draw(st.sampled_from(sorted(VALID)))
    body = json.loads(json.dumps(VALID[source]))
    path = draw(st.sampled_from(_paths(body)[1:]))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return source, json.dumps(body).encode()


@st.composite
def raw_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """Bytes that are barely or not JSON: deep nesting, bad UTF-8, truncation, constants."""
    source = draw(st.sampled_from([*sorted(VALID), "unknown", "Alertmanager"]))
    depth = draw(st.integers(min_value=1, max_value=3_000))
    body = draw(
        st.one_of(
            st.binary(max_size=200),
            st.just(b"[" * depth + b"]" * depth),
            st.just(b'{"a":' * depth + b"1" + b"}" * depth),
            st.just(json.dumps(VALID.get(source, {})).encode()[: draw(st.integers(0, 60))]),
            st.sampled_from([b"NaN", b'{"version": Infinity}', b'"\\ud800"', b"\xc3\x28"]),
            json_values.map(lambda v: json.dumps(v).encode()),
        )
    )
    return source, body


@st.composite
def codec_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """Payloads as the UI sends them, compressed or not, broken in one place or in the bytes."""
    path = draw(st.sampled_from(["/codec/decode", "/codec/encode"]))
    data = draw(st.binary(max_size=300))
    kind = draw(st.sampled_from(["plain", "zlib", "truncated", "not-zlib", "not-a-payload"]))
    payload = Payload(metadata={"encoding": b"json/plain"}, data=data)
    packed = zlib.compress(payload.SerializeToString())
    compressed = {
        "plain": None,
        "zlib": packed,
        "truncated": packed[: len(packed) // 2],
        "not-zlib": data,
        "not-a-payload": zlib.compress(data),
    }[kind]
    if compressed is not None:
        payload = Payload(metadata={"encoding": ENCODING}, data=compressed)
    body = json.loads(json_format.MessageToJson(Payloads(payloads=[payload])))
    if draw(st.booleans()):
        path_in = draw(st.sampled_from(_paths(body)[1:]))
        parent = body
        for key in path_in[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path_in[-1]]
        else:
            parent[path_in[-1]] = draw(json_values)
    return path, json.dumps(body).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str], bool]:
    """(method, path, body, headers, against the app with credentials)."""
    kind = draw(
        st.sampled_from(
            ["alerts"] * 3 + ["raw"] * 2 + ["codec"] * 3 + ["codec-raw", "get", "options"]
        )
    )
    method, body = "POST", b""
    if kind == "alerts":
        source, body = draw(mutated())
        path = f"/v1/alerts/{source}"
    elif kind == "raw":
        source, body = draw(raw_bodies())
        path = f"/v1/alerts/{source}"
    elif kind == "codec":
        path, body = draw(codec_bodies())
    elif kind == "codec-raw":
        path = draw(st.sampled_from(["/codec/decode", "/codec/encode"]))
        _, body = draw(raw_bodies())
    else:
        method = "GET" if kind == "get" else "OPTIONS"
        path = draw(
            st.sampled_from(
                ["/healthz", "/readyz", "/openapi.json", "/codec/decode", "/v1/alerts/generic"]
            )
        )
    headers = {
        "content-type": draw(
            st.sampled_from(
                [
                    *["application/json"] * 6,
                    "application/json; charset=utf-8",
                    "APPLICATION/JSON",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "application/jsonx",
                    ";",
                    "",
                ]
            )
        )
    }
    if draw(st.integers(0, 9)) == 0:
        headers["origin"] = draw(st.sampled_from(["https://evil.example", "null", UI_ORIGIN]))
    if draw(st.booleans()):
        headers["authorization"] = draw(
            st.sampled_from(["Bearer fuzz-token", "Bearer wrong", "Basic Zm9v", "Bearer", ""])
        )
    if draw(st.integers(0, 3)) == 0:
        stamp = draw(st.sampled_from([str(int(time.time())), "0", "-5", "99999999999999", "x"]))
        signed = auth.signed_headers("fuzz-secret", body)
        headers["x-incidentflow-timestamp"] = stamp
        headers["x-incidentflow-signature"] = draw(
            st.sampled_from([signed["X-IncidentFlow-Signature"], "sha256=00", "", "sha256="])
        )
    return method, path, body, headers, draw(st.integers(0, 2)) == 0


def test_hostile_requests_never_crash_the_webhook(dev_server: DevServer, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    open_app = make_settings(
        dev_server.address, tmp_path, max_body_bytes=256 * 1024, cors_origins=[UI_ORIGIN]
    )
    guarded = make_settings(
        dev_server.address,
        tmp_path,
        max_body_bytes=256 * 1024,
        ingest_tokens={"alertmanager": "fuzz-token", "codec": "fuzz-token"},
        ingest_hmac_secrets={"*": "fuzz-secret"},
    )
    client = loop.run_until_complete(connect(open_app))
    apps = {
        False: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(open_app, TemporalSink(client, open_app))),
            base_url="http://ingest",
        ),
        True: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(guarded, TemporalSink(client, guarded))),
            base_url="http://ingest",
        ),
    }
    seen: dict[int, int] = {}
    paths: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests())
    def one(case: tuple[str, str, bytes, dict[str, str], bool]) -> None:
        method, path, body, headers, with_credentials = case
        http = apps[with_credentials]
        resp = loop.run_until_complete(
            http.request(method, path, content=body or None, headers=headers)
        )
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        key = path if path.startswith("/codec") else path.rsplit("/", 1)[0]
        paths[key] = paths.get(key, 0) + 1
        assert resp.status_code in ALLOWED, (method, path, resp.status_code, resp.text[:300])
        if resp.status_code in (204, 405):
            return
        answer = resp.json()
        if resp.status_code >= 400:
            assert isinstance(answer["error"], str), answer

    try:
        one()
        assert sum(seen.values()) >= EXAMPLES
        assert seen.get(422, 0) > 100 and seen.get(400, 0) > 100, seen
        assert seen.get(401, 0) > 100 and seen.get(415, 0) > 100, seen
        assert seen.get(200, 0) > 100, seen  # codec answers, not only refusals
        assert paths.get("/codec/decode", 0) > 500 and paths.get("/codec/encode", 0) > 500, paths
        # Still answering, and still accepting a good payload.
        http = apps[False]
        assert loop.run_until_complete(http.get("/healthz")).status_code == 200
        ok = loop.run_until_complete(http.post("/v1/alerts/generic", json=VALID["generic"]))
        assert ok.status_code == 202, ok.text
    finally:
        for http in apps.values():
            loop.run_until_complete(http.aclose())
        loop.close()
