"""Issue 14, finding 4: the edge as an attacker tried it, each attempt now refused with a 4xx.

Every test drives the real ingest app against the session's dev server: content types and
origins, a body far over the limit refused while it streams, the codec's auth, zlib bombs and
garbage, replayed signatures, unguarded sources, and dates near year 1 with an offset.
"""

from __future__ import annotations

import base64
import json
import resource
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from conftest import make_settings
from flow import demo_payloads
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from incidentflow.codec import ENCODING
from incidentflow.errors import IncidentFlowError
from incidentflow.ingest import auth
from incidentflow.ingest.app import create_app
from incidentflow.ingest.codec_server import MAX_DECODED_BYTES
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import AlertBatch
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect

JSON = {"Content-Type": "application/json"}


async def ingest(settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings, TemporalSink(await connect(settings), settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


async def test_only_json_is_taken_and_browser_origins_are_refused(
    dev_server: DevServer, tmp_path: Path
) -> None:
    body = json.dumps(demo_payloads()[1]).encode()
    async with await ingest(make_settings(dev_server.address, tmp_path)) as http:
        # What a page on another origin can send without a preflight: refused, nothing opened.
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            resp = await http.post(
                "/v1/alerts/alertmanager", content=body, headers={"Content-Type": kind}
            )
            assert resp.status_code == 415 and "application/json" in resp.json()["error"], kind
        missing = await http.post("/v1/alerts/generic", content=b'{"alerts": [{"name": "x"}]}')
        assert missing.status_code == 415
        page = await http.post(
            "/v1/alerts/alertmanager",
            content=body,
            headers=JSON | {"Origin": "https://attacker.example"},
        )
        assert page.status_code == 403 and "access-control-allow-origin" not in page.headers
        with_charset = {"Content-Type": "application/json; charset=utf-8"}
        ok = await http.post("/v1/alerts/alertmanager", content=body, headers=with_charset)
        assert ok.status_code == 202, ok.text


async def test_a_huge_body_is_refused_while_it_streams(
    dev_server: DevServer, tmp_path: Path
) -> None:
    chunk = b" " * (1024 * 1024)
    sent = 0

    async def six_hundred_mb() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(600):
            sent += 1
            yield chunk

    settings = make_settings(dev_server.address, tmp_path)
    async with await ingest(settings) as http:
        for path in ("/v1/alerts/alertmanager", "/codec/decode"):
            sent = 0
            # No Content-Length (chunked): only counting while reading can stop it.
            resp = await http.post(path, content=six_hundred_mb(), headers=JSON)
            assert resp.status_code == 413, (path, resp.text)
            assert sent <= 20, f"{path} read {sent} MB before refusing"


def bomb_request(inflated_bytes: int) -> bytes:
    inner = Payload(metadata={"encoding": b"json/plain"}, data=b"0" * inflated_bytes)
    packed = zlib.compress(inner.SerializeToString(), 9)
    outer = Payload(metadata={"encoding": ENCODING}, data=packed)
    return json_format.MessageToJson(Payloads(payloads=[outer])).encode()


async def test_the_codec_needs_credentials_bounds_inflation_and_refuses_garbage(
    dev_server: DevServer, tmp_path: Path
) -> None:
    guarded = make_settings(
        dev_server.address, tmp_path, ingest_tokens={"alertmanager": "am", "codec": "ui-token"}
    )
    small = json_format.MessageToJson(Payloads(payloads=[Payload(data=b"{}")])).encode()
    async with await ingest(guarded) as http:
        assert (await http.post("/codec/decode", content=small, headers=JSON)).status_code == 401
        auth_ok = JSON | {"Authorization": "Bearer ui-token"}
        ok = await http.post("/codec/decode", content=small, headers=auth_ok)
        assert ok.status_code == 200, ok.text
    # Tokens for other sources only: the codec is refused, not open.
    others = make_settings(dev_server.address, tmp_path, ingest_tokens={"alertmanager": "am"})
    async with await ingest(others) as http:
        assert (await http.post("/codec/decode", content=small, headers=JSON)).status_code == 401

    async with await ingest(make_settings(dev_server.address, tmp_path)) as http:
        # A few hundred kB that would inflate to 1 GB: refused after MAX_DECODED_BYTES.
        bomb = bomb_request(1024 * 1024 * 1024)
        assert len(bomb) < 2 * 1024 * 1024
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        resp = await http.post("/codec/decode", content=bomb, headers=JSON)
        grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert resp.status_code == 413, resp.text[:200]
        assert grew_mb < 3 * MAX_DECODED_BYTES / 2**20, f"peak memory grew {grew_mb:.0f} MB"
        assert time.monotonic() - started < 30
        # Within the limit it still decodes.
        fine = await http.post("/codec/decode", content=bomb_request(1024 * 1024), headers=JSON)
        assert fine.status_code == 200

        garbage: list[Any] = [
            {
                "payloads": [
                    {
                        "metadata": {"encoding": base64.b64encode(ENCODING).decode()},
                        "data": base64.b64encode(b"not zlib at all").decode(),
                    }
                ]
            },
            {
                "payloads": [
                    {
                        "metadata": {"encoding": base64.b64encode(ENCODING).decode()},
                        "data": base64.b64encode(zlib.compress(b"\xff\xfe garbage")).decode(),
                    }
                ]
            },
            {"payloads": [{"data": "***not base64***"}]},
            {"payloads": 7},
            [1, 2],
        ]
        for body in garbage:
            resp = await http.post("/codec/decode", content=json.dumps(body), headers=JSON)
            assert resp.status_code == 400, (body, resp.status_code, resp.text[:200])
        for raw in (b"\xff\xfe\x00", b"[" * 100_000, b"{"):
            resp = await http.post("/codec/decode", content=raw, headers=JSON)
            assert resp.status_code == 400, (raw[:10], resp.status_code)


async def test_a_replayed_signed_request_is_refused_outside_the_window(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(
        dev_server.address,
        tmp_path,
        ingest_hmac_secrets={"*": "s3cret"},
        ingest_hmac_window_seconds=300,
    )
    body = json.dumps(demo_payloads()[1]).encode()
    async with await ingest(settings) as http:
        fresh = JSON | auth.signed_headers("s3cret", body)
        first = await http.post("/v1/alerts/alertmanager", content=body, headers=fresh)
        assert first.status_code == 202, first.text
        # Replayed at once: the same delivery, which the stream takes once.
        again = await http.post("/v1/alerts/alertmanager", content=body, headers=fresh)
        assert again.json()["accepted"][0]["batch_id"] == first.json()["accepted"][0]["batch_id"]
        # Captured six minutes ago and replayed now: refused.
        captured = JSON | auth.signed_headers("s3cret", body, at=time.time() - 360)
        replay = await http.post("/v1/alerts/alertmanager", content=body, headers=captured)
        assert replay.status_code == 401 and "300 s" in replay.json()["error"]
        # The timestamp cannot be refreshed without the secret: it is signed.
        forged = captured | {"X-IncidentFlow-Timestamp": str(int(time.time()))}
        resp = await http.post("/v1/alerts/alertmanager", content=body, headers=forged)
        assert resp.status_code == 401


async def test_dates_near_year_one_with_an_offset_are_422_naming_the_field(
    dev_server: DevServer, tmp_path: Path
) -> None:
    year_one = "0001-01-01T00:00:00+00:01"
    year_max = "9999-12-31T23:59:59-00:01"
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("generic", {"alerts": [{"name": "X", "starts_at": year_one}]}, "alerts.0.starts_at"),
        ("generic", {"alerts": [{"name": "X", "ends_at": year_max}]}, "alerts.0.ends_at"),
        (
            "pagerduty",
            {
                "routing_key": "k",
                "event_action": "trigger",
                "payload": {
                    "summary": "s",
                    "source": "h",
                    "severity": "error",
                    "timestamp": year_one,
                },
            },
            "payload.timestamp",
        ),
        (
            "alertmanager",
            {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {"status": "firing", "labels": {"alertname": "A"}, "startsAt": year_one}
                ],
            },
            "alerts.0.startsAt",
        ),
        (
            "grafana",
            {
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "G"},
                        "startsAt": "2026-01-01T00:00:00Z",
                        "endsAt": year_one,
                    }
                ],
            },
            "alerts.0.endsAt",
        ),
    ]
    async with await ingest(make_settings(dev_server.address, tmp_path)) as http:
        for source, body, field in cases:
            resp = await http.post(f"/v1/alerts/{source}", json=body)
            assert resp.status_code == 422, (source, resp.status_code, resp.text[:300])
            assert field in {f["field"] for f in resp.json()["fields"]}, resp.json()
        # Alertmanager's "not ended yet" zero time is still what it always was.
        unended = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "A"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                }
            ],
        }
        assert (await http.post("/v1/alerts/alertmanager", json=unended)).status_code == 202


class _PartitionCap:
    """A sink with the stream's partition limit in front of the real one (that limit is the
    stream's to set; the edge's part is to pass its error through, clearly and as a 4xx)."""

    def __init__(self, inner: TemporalSink, cap: int) -> None:
        self.inner, self.cap, self.seen = inner, cap, set[str]()

    async def accept(self, batch: AlertBatch) -> str:
        self.seen.add(batch.environment)
        if len(self.seen) > self.cap:
            raise IncidentFlowError(
                f"more than {self.cap} stream partitions; the rest go nowhere until an "
                "operator raises the cap"
            )
        return await self.inner.accept(batch)

    async def unready(self) -> str | None:
        return await self.inner.unready()


async def test_a_stream_limit_reaches_the_sender_as_a_clear_4xx(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(dev_server.address, tmp_path)
    sink = _PartitionCap(TemporalSink(await connect(settings), settings), cap=3)
    app = create_app(settings, sink)
    alerts = [
        {"name": f"A{i}", "labels": {"environment": f"{settings.environment}-{i}"}}
        for i in range(5)
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        resp = await http.post("/v1/alerts/generic", json={"alerts": alerts})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert "more than 3 stream partitions" in body["error"]
    assert len(body["accepted_before_failure"]) == 3
