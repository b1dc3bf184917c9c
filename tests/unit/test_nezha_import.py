"""`incidentflow bundle import nezha`: faithful bundles whose names and readable files never
carry the answer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from incidentflow.errors import BadInput
from incidentflow.eval.nezha import FAULT_TYPES, import_nezha
from incidentflow.scenario import load_scenario
from incidentflow.sources.bundle import BundleEvidenceSource

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "nezha-online-boutique"
ROOT_POD = "paymentservice-7b8c9d-x1y2z"
OTHER_POD = "frontend-579b9bff58-t2dbm"
END = "2022-08-22T03:57:19Z"
HOST_A, HOST_B = "33.33.33.167", "33.33.33.115"


def _alert(name: str, pod: str, start: str, end: str | None, fp: str) -> dict[str, object]:
    return {
        "labels": {
            "alertname": name,
            "service": pod.rsplit("-", 2)[0],
            "pod": pod,
            "severity": "warning",
            "namespace": "online-boutique",
        },
        "annotations": {"summary": f"{name} on {pod}"},
        "startsAt": start,
        "endsAt": end or "0001-01-01T00:00:00Z",
        "status": "resolved" if end else "firing",
        "fingerprint": fp,
    }


def _folder(root: Path, name: str, truth: dict[str, object], alerts: list[object]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "truth.json").write_text(json.dumps(truth))
    (folder / "meta.json").write_text(json.dumps({"case_id": name, "alerts": {"on_root_pod": 1}}))
    (folder / "alerts.json").write_text(json.dumps(alerts))
    (folder / "topology.json").write_text(
        json.dumps(
            {
                "services": ["frontend", "paymentservice"],
                "edges": [["frontend", "paymentservice"]],
                "entrypoint": "frontend",
                "host_ip_of_service": {"frontend": HOST_A, "paymentservice": HOST_B},
            }
        )
    )
    rows = ["ts_iso,service,pod,metric,value"]
    for minute in range(10):
        at = f"2022-08-22T03:{45 + minute:02d}:19Z"
        rows.append(f"{at},paymentservice,{ROOT_POD},CpuUsageRate(%),{5 + minute}")
        rows.append(f"{at},frontend,{OTHER_POD},PodServerLatencyP90(s),0.4")
        rows.append(f"{at},frontend-slo,frontend-slo,SuccessRate(%),99.5")
        rows.append(f"{at},paymentservice,{ROOT_POD},NodeCpuUsageRate(%),{30 + minute}")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    spans = [
        {"trace_id": "t1", "span_id": "a", "parent_id": None, "service": "frontend",
         "pod": OTHER_POD, "operation": "hipstershop.Frontend/Recv.",
         "start_ns": 1661140340554557801, "end_ns": 1661140340604851111},
        {"trace_id": "t1", "span_id": "b", "parent_id": "a", "service": "frontend",
         "pod": OTHER_POD, "operation": "hipstershop.PaymentService/Charge",
         "start_ns": 1661140340560000000, "end_ns": 1661140340600000000},
        {"trace_id": "t1", "span_id": "c", "parent_id": "b", "service": "paymentservice",
         "pod": ROOT_POD, "operation": "hipstershop.PaymentService/Charge",
         "start_ns": 1661140340561000000, "end_ns": 1661140340599000000},
    ]  # fmt: skip
    (folder / "spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "nezha"
    _folder(
        root / "cases",
        f"2022-08-22_03_53_{ROOT_POD}",
        {
            "case_id": f"2022-08-22_03_53_{ROOT_POD}",
            "root_service": "paymentservice",
            "root_pod": ROOT_POD,
            "fault_type": "cpu_contention",
            "inject_time_utc": "2022-08-22T03:53:54Z",
        },
        [
            _alert("HighPodServerLatencyP90", OTHER_POD, "2022-08-22T03:45:19Z", None, "f0"),
            _alert("HighCpuUsageRate", ROOT_POD, "2022-08-22T03:54:19Z", END, "f1"),
            _alert("HighPodServerLatencyP90", OTHER_POD, "2022-08-22T03:55:19Z", None, "f2"),
        ],
    )  # fmt: skip
    _folder(
        root / "controls",
        "control_1_2022-08-22_09_30",
        {"control": True, "anchor_time_utc": "2022-08-22T09:30:00Z", "root_service": None},
        [_alert("HighPodServerLatencyP90", OTHER_POD, "2022-08-22T09:20:19Z", None, "c0")],
    )
    (root / "LICENSE").write_text("MIT License\n")
    return root


def test_bundles_are_named_by_time_and_the_answer_is_only_in_expected(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundles"
    written = import_nezha(source, out)
    assert [w.name for w in written] == ["ob-20220822T034354Z", "ob-20220822T092000Z"]
    assert [w.control for w in written] == [False, True]
    bundle = out / "ob-20220822T034354Z"
    readable = [p for p in bundle.rglob("*") if p.is_file() and p.name != "expected.yaml"]
    for path in readable:
        text = path.read_text()
        for secret in ("cpu_contention", "root_service", "inject", "truth", "control"):
            assert secret not in text, (path, secret)
    # Nothing names the root service but the data itself (its metrics, its alerts).
    for path in [bundle / "scenario.yaml", *(bundle / "alerts").iterdir()]:
        assert "paymentservice" not in path.name
    assert "paymentservice" not in (bundle / "scenario.yaml").read_text()
    assert (bundle / "LICENSE").read_text() == "MIT License\n" and (out / "LICENSE").exists()
    assert not (tmp_path / "bundles.tmp").exists()


def test_truth_is_mapped_and_the_fault_alerts_leave_the_background_out(
    source: Path, tmp_path: Path
) -> None:
    import_nezha(source, tmp_path / "b")
    scenario = load_scenario(tmp_path / "b" / "ob-20220822T034354Z")
    assert scenario.expected is not None
    (inc,) = scenario.expected.incidents
    assert inc.root_cause.service == "paymentservice"
    assert inc.root_cause.fault_type is FAULT_TYPES["cpu_contention"]
    assert inc.source_fault_type == "cpu_contention" and inc.grouping
    # f0 starts before the injection; f2 is frontend latency, on all day in this deployment.
    assert inc.fingerprints == ["f1"]
    control = load_scenario(tmp_path / "b" / "ob-20220822T092000Z")
    assert control.expected is not None and control.expected.incidents == []
    # The evidence the agents read has no answer in it.
    assert BundleEvidenceSource(scenario).scenario.expected is None


def test_metric_names_units_spans_and_deliveries_are_the_users(
    source: Path, tmp_path: Path
) -> None:
    import_nezha(source, tmp_path / "b")
    scenario = load_scenario(tmp_path / "b" / "ob-20220822T034354Z")
    names = {(m.service, m.name, m.unit, m.labels.get("scope")) for m in scenario.metrics}
    assert names == {
        ("paymentservice", "CpuUsageRate(%)", "%", "pod"),
        ("frontend", "PodServerLatencyP90(s)", "s", "pod"),
        ("frontend", "SuccessRate(%)", "%", "end-to-end"),
        ("paymentservice", "NodeCpuUsageRate(%)", "%", "node"),
    }
    cpu = next(m for m in scenario.metrics if m.name == "CpuUsageRate(%)")
    assert [p.value for p in cpu.points] == [float(5 + n) for n in range(10)]
    spans = {s.span_id: s for s in scenario.spans}
    assert (
        spans["b"].attributes["span.kind"] == "client" and "span.kind" not in spans["c"].attributes
    )
    assert spans["a"].start.microsecond == 554557
    statuses = [(p["alerts"][0]["fingerprint"], p["status"]) for p in scenario.alert_payloads]
    assert statuses == [("f0", "firing"), ("f1", "firing"), ("f2", "firing"), ("f1", "resolved")]
    assert {s.name for s in scenario.topology.services} == {"frontend", "paymentservice"}
    assert scenario.topology.dependencies("frontend") == ["paymentservice"]


def test_node_series_are_labelled_with_the_host_the_pod_runs_on(
    source: Path, tmp_path: Path
) -> None:
    import_nezha(source, tmp_path / "b")
    scenario = load_scenario(tmp_path / "b" / "ob-20220822T034354Z")
    hosts = {m.name: m.host for m in scenario.metrics}
    # The data set's Node* values are the node's (topology.json host_ip_of_service).
    assert hosts["NodeCpuUsageRate(%)"] == HOST_B
    assert hosts["CpuUsageRate(%)"] is None and hosts["SuccessRate(%)"] is None
    node = next(m for m in scenario.metrics if m.name == "NodeCpuUsageRate(%)")
    assert node.labels == {"pod": ROOT_POD, "scope": "node", "node": HOST_B}
    # A Node* series whose service has no host in the topology is a mistake, named.
    topo = next((source / "cases").iterdir()) / "topology.json"
    data = json.loads(topo.read_text())
    data["host_ip_of_service"] = {"frontend": HOST_A}
    topo.write_text(json.dumps(data))
    with pytest.raises(BadInput, match="no host_ip_of_service for paymentservice"):
        import_nezha(source, tmp_path / "c")


def test_import_replaces_the_set_atomically_and_a_mistake_is_one_line(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "stale").write_text("old")
    import_nezha(source, out)
    assert not (out / "stale").exists() and (out / "ob-20220822T034354Z").is_dir()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "bundle", "import", "nezha", str(tmp_path),
         str(tmp_path / "x")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "holds no Nezha case" in proc.stderr


@pytest.mark.skipif(not DATA.is_dir(), reason="the shared Nezha data set is not beside the repo")
@pytest.mark.slow
def test_the_real_set_converts_to_56_cases_and_5_controls(tmp_path: Path) -> None:
    written = import_nezha(DATA, tmp_path / "ob")
    assert sum(not w.control for w in written) == 56 and sum(w.control for w in written) == 5
    kinds: Counter[str] = Counter()
    for w in written:
        expected = yaml.safe_load((w.path / "expected.yaml").read_text())
        for inc in expected["incidents"]:
            kinds[inc["source_fault_type"]] += 1
    # The data set's README table: 16, 10, 16, 7, 7.
    assert kinds == Counter(
        cpu_contention=16, cpu_consumed=10, network_delay=16, **{"return": 7, "exception": 7}
    )
