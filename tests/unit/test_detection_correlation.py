"""Agents 1 and 2, detection and correlation, over the demo burst and over edge cases."""

from __future__ import annotations

import pytest
from scenario_alerts import (
    DUPLICATE_FP,
    UNRELATED,
    demo,
    demo_incident,
    make_alert,
    run_correlation,
    run_detection,
    scenario_alerts,
)

from incidentflow.models import (
    AlertStatus,
    CorrelationResult,
    Incident,
    OpenIncident,
    Severity,
)

# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("error", Severity.HIGH),
        ("High", Severity.HIGH),
        ("warning", Severity.WARNING),
        ("info", Severity.INFO),
        ("none", Severity.INFO),
        ("sev9", Severity.WARNING),
    ],
)
def test_detection_maps_severity_labels(label: str, expected: Severity) -> None:
    (det,) = run_detection([make_alert("X", labels={"severity": label, "service": "cart"})])
    assert det.severity is expected
    assert any(r.startswith("severity:") and label in r for r in det.reasons)
    if label == "sev9":
        assert "unknown" in det.reasons[0]


def test_detection_finds_the_service_by_label_convention() -> None:
    dets = {d.alert.name: d for d in run_detection(scenario_alerts(demo()))}
    assert dets["PaymentsHighErrorRate"].service == "payments"
    assert dets["CheckoutHighLatency"].service == "checkout"  # app=
    assert dets["ApiGatewayHigh5xxRate"].service == "api-gateway"  # job=
    assert dets["BlackboxProbeSlowHttp"].service == "web-frontend"  # app_kubernetes_io_name=
    # job=node-exporter is not a service; the container label is.
    assert dets[UNRELATED].service == "reporting-worker"
    assert "container=reporting-worker" in dets[UNRELATED].reasons[1]
    assert not any(d.noise for d in dets.values())


def test_detection_without_service_label_and_outside_the_graph() -> None:
    no_label, stranger = run_detection(
        [
            make_alert("NoLabels", labels={"severity": "critical"}),
            make_alert("Elsewhere", labels={"severity": "critical", "service": "billing"}),
        ]
    )
    assert no_label.service is None and "none of the labels" in no_label.reasons[1]
    assert stranger.service == "billing" and "not a service in the graph" in stranger.reasons[1]
    assert not no_label.noise and not stranger.noise


def test_detection_marks_heartbeats_and_unknown_info_as_noise() -> None:
    watchdog, info, known_info = run_detection(
        [
            make_alert("Watchdog", labels={"severity": "none"}),
            make_alert("Chatter", labels={"severity": "info", "app": "billing"}),
            make_alert("Chatter", labels={"severity": "info", "app": "cart"}),
        ]
    )
    assert watchdog.noise and "heartbeat" in watchdog.reasons[-1]
    assert info.noise and "outside the graph" in info.reasons[-1]
    assert not known_info.noise


def test_detection_flags_flapping() -> None:
    up = make_alert("Flappy", labels={"service": "cart", "severity": "high"}, fingerprint="f1")
    down = up.model_copy(update={"status": AlertStatus.RESOLVED})
    steady = make_alert("Steady", labels={"service": "cart", "severity": "high"})
    dets = run_detection([up, down, up, steady])
    assert [d.flapping for d in dets] == [True, True, True, False]
    assert "flapping" in dets[0].reasons[-1]


def test_detection_of_an_empty_batch() -> None:
    assert run_detection([]) == []


# --- correlation ---------------------------------------------------------------------------


def test_demo_burst_is_one_incident_with_payments_as_origin() -> None:
    result = run_correlation(scenario_alerts(demo()))
    assert len(result.new_incidents) == 1 and result.updates == []
    incident = result.new_incidents[0]
    expected = demo().expected
    assert expected is not None
    assert incident.origin_service == expected.incidents[0].origin_service == "payments"
    assert sorted(a.name for a in incident.alerts) == sorted(expected.incidents[0].alertnames)
    assert incident.severity is Severity.CRITICAL
    assert incident.title == "PaymentsHighErrorRate on payments (+4 downstream)"
    assert incident.services[0] == "payments"
    assert set(incident.services) == set(expected.incidents[0].services)
    assert incident.opened_at == min(a.starts_at for a in incident.alerts)


def test_demo_upstream_alerts_are_downstream_with_edges() -> None:
    incident = demo_incident()
    down = {d.service: d for d in incident.downstream}
    assert set(down) == {"checkout", "api-gateway", "web-frontend"}
    assert len(incident.downstream) == 4  # checkout has two alerts
    assert [str(e) for e in down["web-frontend"].path] == [
        "web-frontend -> api-gateway",
        "api-gateway -> checkout",
        "checkout -> payments",
    ]
    for d in incident.downstream:
        assert d.path[0].caller == d.service and d.path[-1].callee == "payments"
        assert "payments" in d.explanation


def test_demo_duplicate_and_unrelated_alert_are_dropped() -> None:
    result = run_correlation(scenario_alerts(demo()))
    incident = result.new_incidents[0]
    assert [d.fingerprint for d in incident.duplicates] == [DUPLICATE_FP]
    assert "2 times" in incident.duplicates[0].reason
    assert len({a.fingerprint for a in incident.alerts}) == len(incident.alerts)
    assert UNRELATED not in {a.name for a in incident.alerts}
    dropped = {d.alert.name: d for d in result.dropped}
    assert set(dropped) == {"PaymentsHighErrorRate", UNRELATED}
    assert "lone warning" in dropped[UNRELATED].reasons[-1]
    assert "duplicate" in dropped["PaymentsHighErrorRate"].reasons[-1]


def test_incident_id_is_deterministic_and_environment_scoped() -> None:
    incident = demo_incident()
    assert incident.id.startswith("INC-20250314-") and len(incident.id) == len("INC-20250314-") + 6
    assert run_correlation(scenario_alerts(demo())).new_incidents[0].id == incident.id
    staging = run_correlation(scenario_alerts(demo()), environment="staging").new_incidents[0]
    assert staging.id != incident.id and staging.environment == "staging"


def test_correlation_of_nothing() -> None:
    assert run_correlation([]) == CorrelationResult()


def test_alert_near_an_open_incident_joins_it() -> None:
    open_inc = OpenIncident(
        id="INC-20250314-abcdef",
        services=["checkout"],
        fingerprints=["known"],
        opened_at=demo_incident().opened_at,
    )
    near = make_alert("CartSlow", labels={"service": "cart", "severity": "high"})
    far = make_alert("ReportLag", labels={"service": "reporting-worker", "severity": "critical"})
    again = make_alert("Known", labels={"service": "checkout"}, fingerprint="known")
    gone = again.model_copy(update={"status": AlertStatus.RESOLVED, "fingerprint": "known"})
    result = run_correlation([near, far, again], [open_inc])
    (update,) = result.updates
    assert update.incident_id == open_inc.id and [a.name for a in update.alerts] == ["CartSlow"]
    assert update.services == ["cart"]
    assert "1 hop from checkout" in update.reasons[0]
    assert [i.origin_service for i in result.new_incidents] == ["reporting-worker"]
    assert [d.alert.name for d in result.dropped] == ["Known"]
    resolved = run_correlation([gone], [open_inc])
    assert resolved.updates[0].reasons == ["Known resolved"]


def test_alerts_without_a_known_service_still_open_incidents() -> None:
    result = run_correlation(
        [
            make_alert("Mystery", labels={"severity": "critical"}),
            make_alert("Billing5xx", labels={"severity": "high", "service": "billing"}),
        ]
    )
    by_origin = {i.origin_service: i for i in result.new_incidents}
    assert set(by_origin) == {None, "billing"}
    assert by_origin[None].title == "Mystery on unknown service"
    assert by_origin["billing"].downstream == []


def test_quiet_groups_do_not_open_incidents() -> None:
    lone_warning = make_alert("DiskSlow", labels={"service": "inventory", "severity": "warning"})
    info = make_alert("Fyi", labels={"service": "cart", "severity": "info"})
    result = run_correlation([lone_warning, info])
    assert result.new_incidents == [] and len(result.dropped) == 2
    two_warnings = [
        lone_warning,
        make_alert("CartSlow", labels={"service": "cart", "severity": "warning"}),
    ]
    (incident,) = run_correlation(two_warnings).new_incidents
    assert incident.severity is Severity.WARNING
    assert incident.origin_service == "inventory"  # cart calls inventory


def test_alerts_far_apart_in_time_are_separate_incidents() -> None:
    early = make_alert("A", labels={"service": "payments", "severity": "critical"})
    late = make_alert(
        "B", labels={"service": "checkout", "severity": "critical"}, at="2025-03-14T15:00:00Z"
    )
    assert len(run_correlation([early, late]).new_incidents) == 2


def test_demo_delivered_one_payload_per_batch_still_makes_one_incident() -> None:
    """What the stream sees when every webhook delivery is its own batch."""
    open_incidents: list[OpenIncident] = []
    new: list[Incident] = []
    joined: list[str] = []
    dropped: list[str] = []
    downstream: dict[str, list[str]] = {}
    duplicates: list[str] = []
    for payload in demo().alert_payloads:
        alerts = [a for a in scenario_alerts(demo()) if a.raw in payload["alerts"]][:1]
        result = run_correlation(alerts, open_incidents)
        for inc in result.new_incidents:
            new.append(inc)
            open_incidents.append(
                OpenIncident(
                    id=inc.id,
                    services=inc.services,
                    fingerprints=[a.fingerprint for a in inc.alerts],
                    opened_at=inc.opened_at,
                    origin_service=inc.origin_service,
                )
            )
        for update in result.updates:
            downstream.update({d.service: [e.callee for e in d.path] for d in update.downstream})
            duplicates += [d.fingerprint for d in update.duplicates]
            # As the stream does: widen the open incident's index with what joined it.
            open_incidents = [
                o.model_copy(
                    update={
                        "services": sorted({*o.services, *update.services}),
                        "fingerprints": sorted(
                            {*o.fingerprints, *(a.fingerprint for a in update.alerts)}
                        ),
                    }
                )
                if o.id == update.incident_id
                else o
                for o in open_incidents
            ]
            joined += [a.name for a in update.alerts]
        dropped += [d.alert.name for d in result.dropped]
    assert [i.origin_service for i in new] == ["payments"]
    assert sorted(joined) == sorted(
        [
            "CheckoutHighErrorRate",
            "CheckoutHighLatency",
            "ApiGatewayHigh5xxRate",
            "BlackboxProbeSlowHttp",
        ]
    )
    assert dropped == [UNRELATED, "PaymentsHighErrorRate"]  # the lone warning, the HA duplicate
    # Alerts that joined later are still explained by the origin, edge by edge.
    assert {"checkout", "api-gateway", "web-frontend"} <= set(downstream)
    assert all(path[-1] == "payments" for path in downstream.values())
    assert downstream["api-gateway"] == ["checkout", "payments"]
    # The HA peer's repeat is recorded on the incident, not silently dropped.
    assert len(duplicates) == 1


def test_origin_moves_when_a_deeper_failing_dependency_joins() -> None:
    """Alertmanager may deliver the symptom's group first: checkout opens the incident, then
    payments (which checkout calls) joins and becomes the origin; every alert is re-explained."""
    from incidentflow.models import AlertMember

    checkout = make_alert(
        "CheckoutHighErrorRate",
        labels={"service": "checkout", "severity": "critical"},
        fingerprint="c1",
    )
    gateway = make_alert("GatewayErrors", labels={"service": "api-gateway"}, fingerprint="g1")
    opened = run_correlation([checkout])
    (incident,) = opened.new_incidents
    assert incident.origin_service == "checkout"
    entry = OpenIncident(
        id=incident.id,
        services=incident.services,
        fingerprints=["c1"],
        opened_at=incident.opened_at,
        origin_service="checkout",
        members={"c1": AlertMember(service="checkout", name="CheckoutHighErrorRate")},
    )
    payments = make_alert(
        "PaymentsHighErrorRate", labels={"service": "payments", "severity": "critical"}
    )
    (update,) = run_correlation([payments, gateway], [entry]).updates
    assert update.origin_service == "payments"
    assert "checkout depends on it" in update.origin_reason
    paths = {d.fingerprint: [e.callee for e in d.path] for d in update.downstream}
    assert paths["c1"] == ["payments"]
    assert paths["g1"] == ["checkout", "payments"]
    # Nothing deeper joined: the origin stays, and no update claims otherwise.
    (same,) = run_correlation([gateway], [entry]).updates
    assert same.origin_service is None


def test_an_alert_near_a_service_that_joins_in_the_same_batch_joins_too() -> None:
    """web-frontend is 3 hops from payments, 1 from api-gateway, which joins in this batch."""
    open_inc = OpenIncident(
        id="INC-20250314-abcdef",
        services=["payments"],
        fingerprints=["known"],
        opened_at=demo_incident().opened_at,
        origin_service="payments",
    )
    gateway = make_alert("ApiGatewayHigh5xxRate", labels={"service": "api-gateway"})
    probe = make_alert(
        "BlackboxProbeSlowHttp", labels={"service": "web-frontend", "severity": "warning"}
    )
    # Either order in the batch, and the probe alone once api-gateway is in the index.
    for batch in ([gateway, probe], [probe, gateway]):
        result = run_correlation(batch, [open_inc])
        assert not result.new_incidents and not result.dropped and not result.quiet
        (update,) = result.updates
        assert sorted(a.name for a in update.alerts) == sorted([gateway.name, probe.name])
        assert any("web-frontend is 1 hop from api-gateway" in r for r in update.reasons)
        paths = {d.service: [e.callee for e in d.path] for d in update.downstream}
        assert paths["web-frontend"][-1] == "payments"
    alone = run_correlation([probe], [open_inc])
    assert alone.quiet and not alone.updates  # 3 hops: it waits, as before
