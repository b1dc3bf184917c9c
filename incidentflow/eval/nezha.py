"""Convert the Nezha Online Boutique fault cases into scenario bundles (format v1).

The data set (`shared/data/nezha-online-boutique`, MIT, from the Nezha paper's public data)
holds one folder per fault injection or fault-free control: `metrics.csv`, `spans.jsonl`,
`alerts.json`, `topology.json`, and the answer in `truth.json` and `meta.json`. The
conversion is faithful: metric names and units stay the user's (`CpuUsageRate(%)`, not ours),
values are copied as they are, alerts become the Alertmanager deliveries they would have been.
The `Node*` series (the values of the node the pod runs on) are labelled host-scoped
(`scope: node`, `node: <host_ip_of_service>`), so no service reads its host's load as its own.

The answer must reach only `expected.yaml`: folder names carry the root pod, so bundles are
named by their window's start time alone, and nothing from `truth.json`, `meta.json` or
`cases.csv` is written anywhere else. Controls look like cases from the outside.

Truth mapping (documented in docs/accuracy.md):

| Nezha fault type | our FaultType | why |
|---|---|---|
| cpu_contention, cpu_consumed | resource_exhaustion | the pod's CPU is saturated |
| network_delay | network | the pod's traffic is delayed |
| return, exception | code_exception | a code defect injected at run time |

The fault's alerts (grouping truth) are those that start at or after the injection, less the
three conditions that hold all day in this deployment (the data set's README, "Noise").
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from incidentflow.errors import BadInput
from incidentflow.evidence import HOST_LABEL, HOST_SCOPE, SCOPE_LABEL
from incidentflow.models import FaultType

FAULT_TYPES: dict[str, FaultType] = {
    "cpu_contention": FaultType.RESOURCE_EXHAUSTION,
    "cpu_consumed": FaultType.RESOURCE_EXHAUSTION,
    "network_delay": FaultType.NETWORK,
    "return": FaultType.CODE_EXCEPTION,
    "exception": FaultType.CODE_EXCEPTION,
}
# (alertname, service) pairs the README names as firing in every window of this deployment.
BACKGROUND_ALERTS = frozenset(
    {
        ("HighMemoryUsageRate", "adservice"),
        ("HighPodServerLatencyP90", "checkoutservice"),
        ("HighPodServerLatencyP90", "frontend"),
    }
)
# The load generator's end-to-end figures: kept under the entry point, labelled as such.
SLO_POD = "frontend-slo"
# The data set's host metrics (NodeCpuUsageRate, NodeMemoryUsageRate, NodeNetworkReceiveBytes).
NODE_METRIC_PREFIX = "Node"
ENVIRONMENT = "online-boutique"
_ZERO = "0001-01-01T00:00:00Z"
_PEEK = ("truth.json", "alerts.json", "metrics.csv", "topology.json")


@dataclass(frozen=True)
class Converted:
    """One written bundle: its name, where it went and whether it is a control."""

    name: str
    path: Path
    control: bool


def case_folders(source: Path) -> list[Path]:
    """Every case and control folder of the data set, in name order (cases first)."""
    folders = [
        p
        for kind in ("cases", "controls")
        for p in sorted((source / kind).glob("*"))
        if p.is_dir() and all((p / f).is_file() for f in _PEEK)
    ]
    if not folders:
        raise BadInput(
            f"{source} holds no Nezha case (expected cases/*/ and controls/*/ with "
            "truth.json, alerts.json, metrics.csv and topology.json)"
        )
    return folders


def import_nezha(source: Path, out: Path) -> list[Converted]:
    """Convert every case and control under `source` into bundles under `out`.

    Written into `<out>.tmp` and renamed into place at the end, so a reader never sees half
    a set; an existing `out` is replaced.
    """
    folders = case_folders(source)
    staging = out.with_name(out.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    licence = source / "LICENSE"
    written = [convert_case(folder, staging) for folder in folders]
    names = [w.name for w in written]
    if len(set(names)) != len(names):
        raise BadInput(f"{source}: two cases share a window start; names would collide")
    if licence.is_file():
        # The MIT licence travels with every copy: beside the set and inside each bundle.
        for target in [staging, *(w.path for w in written)]:
            shutil.copyfile(licence, target / "LICENSE")
    (staging / "README.md").write_text(_set_readme(source))
    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old)
    else:
        os.rename(staging, out)
    return [Converted(w.name, out / w.name, w.control) for w in written]


def convert_case(folder: Path, out: Path) -> Converted:
    """One Nezha folder as one bundle under `out`, named by its window's start."""
    truth = _read_json(folder / "truth.json")
    control = bool(truth.get("control"))
    anchor = _time(truth["anchor_time_utc"] if control else truth["inject_time_utc"])
    start, end = anchor - timedelta(minutes=10), anchor + timedelta(minutes=5)
    name = "ob-" + start.strftime("%Y%m%dT%H%M%SZ")
    bundle = out / name
    bundle.mkdir(parents=True)
    topology = _read_json(folder / "topology.json")
    alerts = _read_json(folder / "alerts.json")
    if not isinstance(alerts, list):
        raise BadInput(f"{folder / 'alerts.json'}: expected a list of alerts")
    _write_yaml(bundle / "scenario.yaml", _manifest(name, start, end))
    _write_yaml(bundle / "topology.yaml", _topology(topology))
    _write_deliveries(bundle / "alerts", alerts)
    _write_metrics(folder / "metrics.csv", bundle / "metrics.csv", hosts_of(topology))
    if (folder / "spans.jsonl").is_file():
        _write_spans(folder / "spans.jsonl", bundle / "spans.jsonl")
    _write_yaml(bundle / "expected.yaml", expected_answer(truth, alerts, anchor))
    return Converted(name, bundle, control)


def expected_answer(truth: dict[str, Any], alerts: list[dict[str, Any]], anchor: datetime) -> Any:
    """`expected.yaml` for one case: root service and mapped fault type; none for controls."""
    if truth.get("control"):
        return {"incidents": []}
    root = str(truth["root_service"])
    raw_type = str(truth["fault_type"])
    if raw_type not in FAULT_TYPES:
        raise BadInput(f"{truth.get('case_id')}: unknown Nezha fault type {raw_type!r}")
    fault = [a for a in alerts if _starts(a) >= anchor and _key(a) not in BACKGROUND_ALERTS]
    grouping = bool(fault)
    if not fault:
        # No alert of its own: the root cause is scored on whatever incident holds the alerts
        # active from the injection on, and the case says nothing about grouping.
        fault = [a for a in alerts if _active_after(a, anchor)]
    services = sorted({root} | {_key(a)[1] for a in fault})
    return {
        "incidents": [
            {
                "alertnames": sorted({_key(a)[0] for a in fault}),
                "fingerprints": sorted(str(a["fingerprint"]) for a in fault),
                "grouping": grouping,
                "services": services,
                "origin_service": root,
                "root_cause": {"service": root, "fault_type": FAULT_TYPES[raw_type].value},
                "source_fault_type": raw_type,
            }
        ]
    }


# --- writers ------------------------------------------------------------------------------


def _manifest(name: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "format": 1,
        "environment": ENVIRONMENT,
        "alert_source": "alertmanager",
        "description": (
            f"Online Boutique on Kubernetes, {_stamp(start)} to {_stamp(end)}: per-minute pod "
            "metrics (cAdvisor, Istio, node exporter), sampled traces where recorded, and the "
            "alerts of the data set's threshold rules. From the Nezha data set (MIT, "
            "IntelligentDDS; see LICENSE)."
        ),
    }


def _topology(topology: dict[str, Any]) -> dict[str, Any]:
    services = [str(s) for s in topology["services"]]
    calls: dict[str, list[str]] = {s: [] for s in services}
    for caller, callee in topology["edges"]:
        if caller not in calls or callee not in calls:
            raise BadInput(f"topology edge {caller} -> {callee} names an unknown service")
        calls[caller].append(callee)
    entry = topology.get("entrypoint")
    return {
        "services": [
            {
                "name": s,
                "owner": "online-boutique",
                "tier": "frontend" if s == entry else "backend",
                "depends_on": sorted(calls[s]),
            }
            for s in services
        ]
    }


def delivery_time(alert: dict[str, Any]) -> datetime:
    """When Alertmanager would send this alert state: its start, or its end once resolved."""
    if alert.get("status") == "resolved":
        return _time(alert["endsAt"])
    return _starts(alert)


def deliveries(alerts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The webhook payloads the alerts make: a firing one at each start, a resolved one at
    each end inside the window, in the order they would be sent."""
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    for a in alerts:
        labels = {k: str(v) for k, v in a["labels"].items()}
        firing = {**a, "labels": labels, "status": "firing", "endsAt": _ZERO}
        events.append((_starts(a), 0, firing))
        if a.get("status") == "resolved":
            events.append((_time(a["endsAt"]), 1, {**a, "labels": labels}))
    events.sort(key=lambda e: (e[0], e[1], e[2]["fingerprint"]))
    for _, _, alert in events:
        labels = alert["labels"]
        yield {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
            "truncatedAlerts": 0,
            "status": alert["status"],
            "receiver": "incidentflow",
            "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels,
            "commonAnnotations": alert.get("annotations", {}),
            "externalURL": "",
            "alerts": [{**alert, "generatorURL": ""}],
        }


def _write_deliveries(folder: Path, alerts: list[dict[str, Any]]) -> None:
    folder.mkdir()
    for n, payload in enumerate(deliveries(alerts), start=1):
        alert = payload["alerts"][0]
        suffix = "-resolved" if alert["status"] == "resolved" else ""
        file = folder / f"{n:03d}-{alert['labels']['alertname']}{suffix}.json"
        file.write_text(json.dumps(payload, indent=2) + "\n")


def metric_unit(metric: str) -> str:
    """The unit the user's metric name states in parentheses (`CpuUsage(m)` -> `m`)."""
    if metric.endswith(")") and "(" in metric:
        return metric[metric.rindex("(") + 1 : -1]
    return ""


def hosts_of(topology: dict[str, Any]) -> dict[str, str]:
    """Service -> the node its pod runs on (`host_ip_of_service`; empty when not given)."""
    hosts = topology.get("host_ip_of_service") or {}
    if not isinstance(hosts, dict):
        raise BadInput("topology.json: host_ip_of_service must map services to node addresses")
    return {str(k): str(v) for k, v in hosts.items()}


def series_scope(metric: str, service: str, hosts: dict[str, str]) -> tuple[str, str]:
    """(scope, node) of one series: the data set's `Node*` metrics are those of the node the
    pod runs on (its README), so they are the host's series (docs/scenario-bundle-v1.md)."""
    if metric.startswith(NODE_METRIC_PREFIX):
        if service not in hosts:
            raise BadInput(f"topology.json: no host_ip_of_service for {service} ({metric})")
        return HOST_SCOPE, hosts[service]
    return "pod", ""


def _write_metrics(src: Path, dst: Path, hosts: dict[str, str]) -> None:
    header = ["series", "name", "service", "unit", "time", "value"]
    labels = ["label_pod", f"label_{SCOPE_LABEL}", f"label_{HOST_LABEL}"]
    with src.open(newline="") as fin, dst.open("w", newline="") as fout:
        out = csv.writer(fout)
        out.writerow(header + labels)
        for row in csv.DictReader(fin):
            pod, metric = row["pod"], row["metric"]
            service = row["service"]
            if pod == SLO_POD:
                # The load generator's view of the whole shop, measured at its entry point.
                service, scope, node = "frontend", "end-to-end", ""
            else:
                scope, node = series_scope(metric, service, hosts)
            series = f"{pod}:{metric}"
            unit = metric_unit(metric)
            out.writerow(
                [series, metric, service, unit, row["ts_iso"], row["value"], pod, scope, node]
            )


def _write_spans(src: Path, dst: Path) -> None:
    spans = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    by_id = {s["span_id"]: s for s in spans}
    # A span whose child runs in another service is the caller's side of a call.
    callers = {
        s["parent_id"]
        for s in spans
        if s.get("parent_id") in by_id and by_id[s["parent_id"]]["service"] != s["service"]
    }
    with dst.open("w") as out:
        for s in spans:
            attributes = {"pod": s["pod"]}
            if s["span_id"] in callers:
                attributes["span.kind"] = "client"
            record = {
                "trace_id": s["trace_id"],
                "span_id": s["span_id"],
                "parent_id": s.get("parent_id"),
                "service": s["service"],
                "operation": s["operation"],
                "start": _ns(int(s["start_ns"])),
                "end": _ns(int(s["end_ns"])),
                "status": "unset",
                "attributes": attributes,
            }
            out.write(json.dumps(record) + "\n")


def _set_readme(source: Path) -> str:
    return (
        "# Online Boutique bundles (Nezha data set)\n\n"
        f"Written by `incidentflow bundle import nezha {source} <out>`; rebuild them with the "
        "same command rather than editing them. Each bundle is one 15-minute window named by "
        "its start; `expected.yaml` holds the answer and is read only by `incidentflow eval`. "
        "The data is MIT-licensed (see LICENSE); docs/accuracy.md describes the mapping.\n"
    )


# --- small helpers ------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BadInput(f"{path}: {err}") from err


def _write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ns(value: int) -> str:
    # datetime holds microseconds; the nanoseconds beyond them are dropped.
    at = datetime.fromtimestamp(value // 1_000_000_000, tz=UTC)
    at = at.replace(microsecond=(value // 1000) % 1_000_000)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _starts(alert: dict[str, Any]) -> datetime:
    return _time(alert["startsAt"])


def _key(alert: dict[str, Any]) -> tuple[str, str]:
    labels = alert["labels"]
    return str(labels["alertname"]), str(labels.get("service", ""))


def _active_after(alert: dict[str, Any], anchor: datetime) -> bool:
    return alert.get("status") != "resolved" or _time(alert["endsAt"]) > anchor
