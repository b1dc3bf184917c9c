"""The scenario bundle loader, time shifting and the bundle evidence source."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from scenario_alerts import make_alert, scenario_alerts

from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.errors import BadInput
from incidentflow.evidence import ChangeKind, LogLevel
from incidentflow.scenario import Scenario, load_scenario
from incidentflow.sources.bundle import BundleEvidenceSource

V4_KEYS = {
    "version",
    "groupKey",
    "status",
    "receiver",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "alerts",
}
ALERT_KEYS = {
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
}


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario(demo_scenario_path())


def test_demo_bundle_is_a_shop_with_a_bad_deploy(demo: Scenario) -> None:
    assert demo.name == "demo-shop" and demo.format_version == 1
    assert len(demo.topology.services) >= 8
    assert demo.topology.dependencies("payments") == ["payments-db"]
    for payload in demo.alert_payloads:
        assert payload.keys() >= V4_KEYS and payload["version"] == "4"
        for alert in payload["alerts"]:
            assert alert.keys() >= ALERT_KEYS
    alerts = scenario_alerts(demo)
    assert len(alerts) >= 7
    counts = Counter(a.fingerprint for a in alerts)
    assert [fp for fp, n in counts.items() if n > 1] == ["978dc99d7f462383"]
    assert demo.expected is not None
    assert demo.expected.duplicate_fingerprints == ["978dc99d7f462383"]
    deploys = [c for c in demo.changes if c.kind is ChangeKind.DEPLOY]
    assert {c.service for c in deploys} == {"payments", "catalog"}
    bad = next(c for c in deploys if c.service == "payments")
    assert (bad.before, bad.after) == ("v2.14.0", "v2.15.0")
    onset = min(a.starts_at for a in alerts if a.labels.get("namespace") == "shop")
    assert timedelta(0) < onset - bad.at < timedelta(minutes=10)


def test_demo_metrics_and_logs_show_the_deploy(demo: Scenario) -> None:
    series = next(s for s in demo.metrics if s.id == "payments_http_error_ratio")
    deploy = datetime(2025, 3, 14, 14, 0, 12, tzinfo=UTC)
    before = [p.value for p in series.points if p.at < deploy]
    after = [p.value for p in series.points if p.at > deploy + timedelta(minutes=3)]
    assert max(before) < 0.01 < 0.2 < min(after)
    errors = [r for r in demo.logs if r.service == "payments" and r.level is LogLevel.ERROR]
    assert errors and all(r.at > deploy for r in errors)
    assert all("v2.15.0" in r.message for r in errors)
    timeouts = [r for r in demo.logs if r.service == "checkout" and "timed out" in r.message]
    assert timeouts and all(r.attributes["peer.service"] == "payments" for r in timeouts)


def test_shifted_moves_every_timestamp(demo: Scenario) -> None:
    delta = timedelta(days=400, minutes=7)
    moved = demo.shifted(delta)
    assert demo.shifted(timedelta(0)) is demo
    assert moved.earliest_alert_start() == demo.earliest_alert_start() + delta
    assert moved.changes[0].at == demo.changes[0].at + delta
    assert moved.logs[-1].at == demo.logs[-1].at + delta
    assert moved.metrics[0].points[5].at == demo.metrics[0].points[5].at + delta
    first = moved.alert_payloads[0]["alerts"][0]
    assert first["endsAt"] == "0001-01-01T00:00:00Z"  # "not resolved" is not a time
    assert first["fingerprint"] == demo.alert_payloads[0]["alerts"][0]["fingerprint"]
    # The original is untouched: shifting returns a new scenario.
    assert demo.alert_payloads[0]["alerts"][0]["startsAt"] == "2025-03-14T14:02:50.000Z"


def test_bundle_source_aligns_by_fingerprint_then_by_earliest(demo: Scenario) -> None:
    source = BundleEvidenceSource(demo)
    delta = timedelta(days=600, seconds=13)
    live = scenario_alerts(demo.shifted(delta))
    burst = [a for a in live if a.name != "HostDiskWillFillIn24Hours"]
    assert source.offset_for(burst) == delta
    stranger = make_alert("Other", at="2026-01-01T00:00:00Z")
    assert source.offset_for([stranger]) == stranger.starts_at - demo.earliest_alert_start()
    assert source.offset_for([]) == timedelta(0)
    aligned = source.aligned(burst)
    deploy_at = datetime(2025, 3, 14, 14, 0, 12, tzinfo=UTC) + delta
    found = aligned.changes(
        services=["payments"], start=deploy_at - timedelta(minutes=1), end=deploy_at
    )
    assert [c.id for c in found] == ["chg-payments-2150"]
    assert (
        source.changes(services=["payments"], start=deploy_at - timedelta(hours=1), end=deploy_at)
        == []
    )


def test_bundle_source_serves_only_the_window(demo: Scenario) -> None:
    source = BundleEvidenceSource(demo)
    start = datetime(2025, 3, 14, 14, 0, tzinfo=UTC)
    end = start + timedelta(minutes=5)
    logs = source.logs(services=["payments"], start=start, end=end)
    assert logs and all(
        start <= r.at <= end and r.level.rank >= LogLevel.WARNING.rank for r in logs
    )
    series = source.metrics(services=["payments"], start=start, end=end)
    assert {s.service for s in series} == {"payments"}
    assert all(len(s.points) == 6 for s in series)  # one a minute, both ends included
    assert source.metrics(services=["nope"], start=start, end=end) == []


def _copy_demo(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(demo_scenario_path(), target)
    return target


def test_load_rejects_unknown_format(tmp_path: Path) -> None:
    bundle = _copy_demo(tmp_path)
    manifest = yaml.safe_load((bundle / "scenario.yaml").read_text())
    (bundle / "scenario.yaml").write_text(yaml.safe_dump({**manifest, "format": 2}))
    with pytest.raises(BadInput, match="format 2"):
        load_scenario(bundle)


def test_load_rejects_dangling_dependency(tmp_path: Path) -> None:
    bundle = _copy_demo(tmp_path)
    topo = yaml.safe_load((bundle / "topology.yaml").read_text())
    topo["services"][0]["depends_on"].append("ghost")
    (bundle / "topology.yaml").write_text(yaml.safe_dump(topo))
    with pytest.raises(BadInput, match="ghost"):
        load_scenario(bundle)


def test_load_rejects_a_missing_directory_and_bad_logs(tmp_path: Path) -> None:
    with pytest.raises(BadInput):
        load_scenario(tmp_path / "missing")
    bundle = _copy_demo(tmp_path)
    with (bundle / "logs.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(BadInput, match=r"logs.jsonl:\d+"):
        load_scenario(bundle)


def test_minimal_bundle_needs_only_manifest_topology_alerts(tmp_path: Path) -> None:
    bundle = tmp_path / "tiny"
    (bundle / "alerts").mkdir(parents=True)
    (bundle / "scenario.yaml").write_text("name: tiny\nformat: 1\n")
    (bundle / "topology.yaml").write_text("services:\n  - name: a\n")
    (bundle / "alerts" / "1.json").write_text('{"version": "4", "alerts": []}')
    tiny = load_scenario(bundle)
    assert tiny.metrics == [] and tiny.logs == [] and tiny.changes == [] and tiny.expected is None
    with pytest.raises(BadInput, match="no alerts"):
        tiny.earliest_alert_start()
