"""A person's split through the rules engines: the new incident's id, origin and reasons."""

from __future__ import annotations

from datetime import UTC, datetime

from scenario_alerts import demo, make_alert, scenario_alerts

from incidentflow.agents.rules import Rules
from incidentflow.agents.splitting import split_incident, split_incident_id
from incidentflow.models import Alert, IncidentMoved, Severity

SOURCE = "INC-20250314-abcdef"
OPENED = datetime(2025, 3, 14, 14, 3, tzinfo=UTC)
NEW = "INC-20250314-000001"


def moved(alerts: list[Alert], reason: str = "not the same problem") -> IncidentMoved:
    return IncidentMoved(
        incident_id=SOURCE,
        other_id=NEW,
        alerts=alerts,
        by="alice",
        reason=reason,
        kind="split_out",
    )


def named(*names: str) -> list[Alert]:
    found = {a.name: a for a in scenario_alerts(demo()) if a.name in names}
    return [found[n] for n in names]


def test_the_id_is_derived_from_the_source_and_the_fingerprints_only() -> None:
    one = split_incident_id(SOURCE, OPENED, ["b", "a"])
    assert one == split_incident_id(SOURCE, OPENED, ["a", "b", "a"])
    assert one.startswith("INC-20250314-")
    assert one != split_incident_id(SOURCE, OPENED, ["a"])
    assert one != split_incident_id("INC-20250314-fedcba", OPENED, ["a", "b"])


def test_alerts_correlation_groups_keep_its_record_and_gain_the_person() -> None:
    made = split_incident(
        moved(named("CheckoutHighErrorRate", "CheckoutHighLatency")),
        incident_id=NEW,
        environment="production",
        graph=demo().topology,
        rules=Rules(),
        at=OPENED,
    )
    inc = made.incident
    assert inc.id == NEW and inc.origin_service == "checkout"
    assert inc.severity is Severity.CRITICAL
    assert inc.reasons[0] == f"split from {SOURCE} by alice: not the same problem"
    assert any(
        r.startswith("grouped CheckoutHighErrorRate and CheckoutHighLatency") for r in inc.reasons
    )
    assert inc.reasons[-1] == f"id: {NEW} from {SOURCE} and 2 fingerprints"
    assert sum(r.startswith("id: ") for r in inc.reasons) == 1
    assert [d.service for d in made.detections] == ["checkout", "checkout"]


def test_a_cascade_split_off_keeps_its_origin_and_downstream() -> None:
    made = split_incident(
        moved(named("PaymentsHighErrorRate", "CheckoutHighErrorRate")),
        incident_id=NEW,
        environment="production",
        graph=demo().topology,
        rules=Rules(),
        at=OPENED,
    )
    assert made.incident.origin_service == "payments"
    assert [d.service for d in made.incident.downstream] == ["checkout"]


def test_the_persons_grouping_stands_where_correlation_would_not_form_it() -> None:
    far = make_alert("ReportsLate", labels={"service": "reporting-worker", "severity": "warning"})
    near = make_alert(
        "CartDown",
        labels={"service": "cart", "severity": "critical"},
        at="2025-03-14T17:00:00Z",
    )
    made = split_incident(
        moved([far, near]),
        incident_id=NEW,
        environment="production",
        graph=demo().topology,
        rules=Rules(),
        at=OPENED,
    )
    inc = made.incident
    assert {a.fingerprint for a in inc.alerts} == {far.fingerprint, near.fingerprint}
    assert inc.severity is Severity.CRITICAL and inc.origin_service == "cart"
    (why,) = [r for r in inc.reasons if r.startswith("grouped by alice's split")]
    assert "correlation alone would open 1 incident(s)" in why
    assert "leave out 1" in why and "lone warning" in why


def test_a_lone_warning_split_off_still_opens_its_incident() -> None:
    lone = make_alert("ReportsLate", labels={"service": "reporting-worker", "severity": "warning"})
    made = split_incident(
        moved([lone], reason=""),
        incident_id=NEW,
        environment="production",
        graph=demo().topology,
        rules=Rules(),
        at=OPENED,
    )
    assert [a.fingerprint for a in made.incident.alerts] == [lone.fingerprint]
    assert made.incident.reasons[0] == f"split from {SOURCE} by alice"
    assert any("would open 0 incident(s)" in r for r in made.incident.reasons)
