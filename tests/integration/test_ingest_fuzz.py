"""10,000 malformed or hostile payloads: no 5xx but 503, no crash, still answering after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from conftest import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.temporal import DevServer, connect

EXAMPLES = 10_000
ALLOWED = {202, 400, 401, 404, 413, 422, 503}

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


def test_hostile_payloads_never_crash_the_webhook(dev_server: DevServer, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    s = make_settings(dev_server.address, tmp_path, max_body_bytes=256 * 1024)
    client = loop.run_until_complete(connect(s))
    transport = httpx.ASGITransport(app=create_app(s, TemporalSink(client, s)))
    http = httpx.AsyncClient(transport=transport, base_url="http://ingest")
    seen: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(mutated(), raw_bodies()))
    def one(case: tuple[str, bytes]) -> None:
        source, body = case
        resp = loop.run_until_complete(
            http.post(
                f"/v1/alerts/{source}",
                content=body,
                headers={"content-type": "application/json"},
            )
        )
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        assert resp.status_code in ALLOWED, (resp.status_code, resp.text[:300])
        assert isinstance(resp.json().get("accepted", resp.json().get("error")), list | str)

    try:
        one()
        assert sum(seen.values()) >= EXAMPLES
        assert seen.get(422, 0) > 100 and seen.get(400, 0) > 100, seen
        # Still answering, and still accepting a good payload.
        assert loop.run_until_complete(http.get("/healthz")).status_code == 200
        ok = loop.run_until_complete(http.post("/v1/alerts/generic", json=VALID["generic"]))
        assert ok.status_code == 202, ok.text
    finally:
        loop.run_until_complete(http.aclose())
        loop.close()
