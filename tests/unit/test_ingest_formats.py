"""Wire formats, auth and body parsing of the webhook, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from incidentflow.errors import BadInput
from incidentflow.ingest import auth, generic, grafana, pagerduty
from incidentflow.ingest.app import MAX_JSON_DEPTH, parse_json
from incidentflow.ingest.formats import FORMATS
from incidentflow.ingest.openapi import openapi_document
from incidentflow.models import Alert, AlertStatus
from incidentflow.settings import IngestSettings, Settings

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def grafana_body(status: str = "firing") -> dict[str, object]:
    return {
        "receiver": "incidentflow",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighLatency", "service": "checkout"},
                "annotations": {"summary": "p99 over 2s"},
                "startsAt": "2026-01-02T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://grafana/alerting/1/view",
                "fingerprint": "57c6d9296de2ad39",
                "silenceURL": "http://grafana/silence",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 2.4, "C": 1},
                "valueString": "[ var='B' value=2.4 ]",
                "orgId": 1,
            }
        ],
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://grafana/",
        "version": "1",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] HighLatency",
        "state": "alerting",
        "message": "...",
    }


def test_grafana_normalizes_and_keeps_the_raw_alert() -> None:
    (alert,) = grafana.normalize(grafana.GrafanaWebhook.model_validate(grafana_body()))
    assert (alert.source, alert.name, alert.status) == ("grafana", "HighLatency", "firing")
    assert alert.fingerprint == "57c6d9296de2ad39" and alert.ends_at is None
    assert alert.raw["valueString"].startswith("[ var='B'") and alert.raw["orgId"] == 1


def pd_event(action: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"routing_key": "R0UTINGKEY", "event_action": action, **extra}
    if action == "trigger":
        body.setdefault(
            "payload",
            {
                "summary": "Disk full on db-1",
                "source": "db-1",
                "severity": "critical",
                "component": "postgres",
                "custom_details": {"environment": "staging", "free": 0},
            },
        )
    return body


def test_pagerduty_trigger_ack_resolve_share_the_dedup_key() -> None:
    def one(body: dict[str, object]) -> Alert:
        (alert,) = pagerduty.normalize(pagerduty.PagerDutyEvent.model_validate(body), NOW)
        return alert

    trig = one(pd_event("trigger", dedup_key="disk-db-1"))
    ack = one(pd_event("acknowledge", dedup_key="disk-db-1"))
    res = one(pd_event("resolve", dedup_key="disk-db-1"))
    assert trig.fingerprint == ack.fingerprint == res.fingerprint == "disk-db-1"
    assert trig.labels["service"] == "postgres" and trig.labels["environment"] == "staging"
    assert trig.labels["severity"] == "critical" and "free" not in trig.labels
    assert ack.acknowledged and ack.status is AlertStatus.FIRING
    assert res.status is AlertStatus.RESOLVED and res.ends_at == NOW
    # The routing key is a credential: it must not reach workflow history.
    assert trig.raw["routing_key"] == "<redacted>"
    # A trigger without a dedup_key gets a stable one, and the same one again.
    assert one(pd_event("trigger")).fingerprint == one(pd_event("trigger")).fingerprint


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (pd_event("resolve"), "dedup_key"),
        ({"routing_key": "k", "event_action": "trigger"}, "payload"),
        ({"routing_key": "k", "event_action": "snooze", "dedup_key": "x"}, "event_action"),
        (pd_event("trigger", surprise=1), "surprise"),
    ],
)
def test_pagerduty_refuses_what_pagerduty_refuses(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        pagerduty.PagerDutyEvent.model_validate(body)
    assert field in str(err.value)


def test_generic_is_strict_and_defaults_start_to_receipt() -> None:
    body = {"alerts": [{"name": "QueueBacklog", "labels": {"service": "orders"}}]}
    (alert,) = generic.normalize(generic.GenericPayload.model_validate(body), NOW)
    assert alert.starts_at == NOW and alert.labels["alertname"] == "QueueBacklog"
    with pytest.raises(ValidationError, match="lables"):
        generic.GenericPayload.model_validate({"alerts": [{"name": "X", "lables": {}}]})


def test_batch_identity_is_stable_per_delivery_and_partition() -> None:
    payload = grafana.GrafanaWebhook.model_validate(grafana_body())
    assert grafana.batch_identity(payload, "prod") == grafana.batch_identity(payload, "prod")
    assert grafana.batch_identity(payload, "prod") != grafana.batch_identity(payload, "stage")
    resolved = grafana.GrafanaWebhook.model_validate(grafana_body("resolved"))
    assert grafana.batch_identity(payload, "prod") != grafana.batch_identity(resolved, "prod")


def test_auth_bearer_and_hmac_per_source() -> None:
    s = Settings().replace(
        dict(
            ingest_tokens={"alertmanager": SecretStr("t0ken")},
            ingest_hmac_secrets={"grafana": SecretStr("k3y")},
        )
    )
    body = b'{"a": 1}'
    assert auth.check(IngestSettings(), "generic", {}, body) is None  # nothing configured: open
    # Credentials for some sources: one without any is refused, not open (finding 4).
    refused = auth.check(s.ingest, "generic", {}, body)
    assert refused is not None and "no credentials configured" in refused
    assert auth.check(s.ingest, "codec", {}, body) is not None
    assert auth.check(s.ingest, "alertmanager", {}, body) is not None
    assert auth.check(s.ingest, "alertmanager", {"authorization": "Bearer wrong"}, body) is not None
    assert auth.check(s.ingest, "alertmanager", {"authorization": "Bearer t0ken"}, body) is None
    now = 1_800_000_000.0
    signed = {k.lower(): v for k, v in auth.signed_headers("k3y", body, at=now).items()}
    assert auth.check(s.ingest, "grafana", signed, body, now=now) is None
    # Grafana's own headers: the hex signature alone, its timestamp header named ours.
    grafana = {
        "x-grafana-alerting-signature": signed["x-incidentflow-signature"][7:],
        "x-grafana-alerting-timestamp": signed["x-incidentflow-timestamp"],
    }
    assert auth.check(s.ingest, "grafana", grafana, body, now=now + 10) is None
    assert auth.check(s.ingest, "grafana", signed, body + b" ", now=now) is not None
    # The timestamp is signed: moving it breaks the signature.
    moved = signed | {"x-incidentflow-timestamp": str(int(now) + 1)}
    assert "does not match" in (auth.check(s.ingest, "grafana", moved, body, now=now) or "")


def test_a_signature_is_refused_outside_its_window_and_without_a_timestamp() -> None:
    s = Settings().replace(
        dict(ingest_hmac_secrets={"*": SecretStr("k3y")}, ingest_hmac_window_seconds=300)
    )
    body = b'{"alerts": []}'
    at = 1_800_000_000.0
    signed = {k.lower(): v for k, v in auth.signed_headers("k3y", body, at=at).items()}
    assert auth.check(s.ingest, "generic", signed, body, now=at + 299) is None
    assert auth.check(s.ingest, "generic", signed, body, now=at - 299) is None
    # The same captured request replayed later, or signed far in the future: refused.
    late = auth.check(s.ingest, "generic", signed, body, now=at + 301)
    assert late is not None and "300 s" in late
    assert auth.check(s.ingest, "generic", signed, body, now=at - 301) is not None
    # The old form (the body alone, no timestamp) no longer passes.
    bare = {"x-incidentflow-signature": signed["x-incidentflow-signature"]}
    assert "X-IncidentFlow-Timestamp" in (auth.check(s.ingest, "generic", bare, body, now=at) or "")
    odd = signed | {"x-incidentflow-timestamp": "\u00b2"}
    assert auth.check(s.ingest, "generic", odd, body, now=at) is not None


def test_a_non_loopback_webhook_without_credentials_needs_insecure() -> None:
    assert auth.exposure_problem(IngestSettings(webhook_host="127.0.0.1")) is None
    assert auth.exposure_problem(IngestSettings(webhook_host="::1")) is None
    assert auth.exposure_problem(IngestSettings(webhook_host="localhost")) is None
    for host in ("0.0.0.0", "::", "10.1.2.3", "ingest.internal"):
        problem = auth.exposure_problem(IngestSettings(webhook_host=host))
        assert problem is not None and "--insecure" in problem, host
    assert (
        auth.exposure_problem(IngestSettings(webhook_host="0.0.0.0", webhook_insecure=True)) is None
    )
    tokens = {"*": SecretStr("t")}
    assert (
        auth.exposure_problem(IngestSettings(webhook_host="0.0.0.0", ingest_tokens=tokens)) is None
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b'{"a": "\\ud800"}',
        b'{"a": NaN}',
        b"\xff\xfe",
        b"",
    ],
)
def test_hostile_bodies_are_bad_input(body: bytes) -> None:
    with pytest.raises(BadInput):
        parse_json(body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert parse_json(b'{"a": "' + b"[" * 500 + b'"}') == {"a": "[" * 500}


def test_openapi_document_lists_every_source() -> None:
    doc = openapi_document()
    for source in FORMATS:
        post = doc["paths"][f"/v1/alerts/{source}"]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
        assert {"202", "401", "413", "422", "503"} <= set(post["responses"])
    assert "/healthz" in doc["paths"] and "/readyz" in doc["paths"]
