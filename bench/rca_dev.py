"""Root-cause accuracy of the rules engine on raw Nezha cases or on bundles, offline.

A development instrument for the investigation engine, not the eval: `incidentflow eval` is
the authoritative measurement. Each case's `metrics.csv`, `spans.jsonl`, `topology.json` and
`alerts.json` become an in-memory scenario under a neutral name; `truth.json` is read only
here, to score, and never reaches the engine. A folder holding `scenario.yaml` is read as a
bundle instead (its `expected.yaml` scores it).

    .venv/bin/python bench/rca_dev.py ../shared/data/nezha-online-boutique/cases [-v]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from incidentflow.eval.nezha import SLO_POD, hosts_of, series_scope
from incidentflow.eval.offline import run_offline
from incidentflow.evidence import HOST_LABEL, SCOPE_LABEL, MetricPoint, MetricSeries, SpanRecord
from incidentflow.models import Investigation, Service, ServiceGraph
from incidentflow.scenario import Scenario, load_scenario
from incidentflow.sources.files import read_yaml

# How Nezha's fault labels read as our fault types (the eval issue documents the mapping).
NEZHA_TYPES = {
    "cpu_contention": "resource_exhaustion",
    "cpu_consumed": "resource_exhaustion",
    "network_delay": "network",
    "return": "code_exception",
    "exception": "code_exception",
}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _scope_labels(metric: str, service: str, hosts: dict[str, str]) -> dict[str, str]:
    if service == SLO_POD:
        return {SCOPE_LABEL: "end-to-end"}
    scope, node = series_scope(metric, service, hosts)
    return {SCOPE_LABEL: scope, HOST_LABEL: node} if node else {SCOPE_LABEL: scope}


def nezha_case(folder: Path) -> tuple[Scenario, list[str], str, str]:
    """The case as a scenario, and (from truth.json, for scoring only) roots and fault type."""
    topo = json.loads((folder / "topology.json").read_text())
    deps: dict[str, list[str]] = defaultdict(list)
    for caller, callee in topo["edges"]:
        deps[caller].append(callee)
    graph = ServiceGraph(
        services=[
            Service(
                name=s,
                depends_on=sorted(deps[s]),
                tier="frontend" if s == "frontend" else "backend",
            )
            for s in topo["services"]
        ]
    )
    points: dict[tuple[str, str], list[MetricPoint]] = defaultdict(list)
    with (folder / "metrics.csv").open() as fh:
        for row in csv.DictReader(fh):
            points[(row["service"], row["metric"])].append(
                MetricPoint(at=_time(row["ts_iso"]), value=float(row["value"]))
            )
    # The importer's scope labels: the Node* series are the host's (docs/scenario-bundle-v1.md).
    hosts = hosts_of(topo)
    metrics = [
        MetricSeries(
            id=f"{svc}:{name}",
            name=name,
            service=svc,
            labels=_scope_labels(name, svc, hosts),
            points=pts,
        )
        for (svc, name), pts in sorted(points.items())
    ]
    spans: list[SpanRecord] = []
    span_file = folder / "spans.jsonl"
    if span_file.exists():
        for line in span_file.read_text().splitlines():
            s = json.loads(line)
            spans.append(
                SpanRecord(
                    trace_id=s["trace_id"],
                    span_id=s["span_id"],
                    parent_id=s["parent_id"],
                    service=s["service"],
                    operation=s["operation"],
                    start=datetime.fromtimestamp(s["start_ns"] / 1e9, UTC),
                    end=datetime.fromtimestamp(s["end_ns"] / 1e9, UTC),
                )
            )
    alerts: list[dict[str, Any]] = json.loads((folder / "alerts.json").read_text())
    scenario = Scenario(
        name="case",
        topology=graph,
        alert_payloads=[{"version": "4", "status": a["status"], "alerts": [a]} for a in alerts],
        metrics=metrics,
        spans=spans,
    )
    truth = json.loads((folder / "truth.json").read_text())
    roots = [truth["root_service"]] if truth.get("root_service") else []
    return (
        scenario,
        roots,
        NEZHA_TYPES.get(truth.get("fault_type") or "", ""),
        str(truth.get("fault_type")),
    )


def bundle_case(folder: Path) -> tuple[Scenario, list[str], str, str]:
    """A bundle, and its expected root (read from `expected.yaml` here, to score only; the
    file may carry fields newer than this branch's schema, so it is read loosely)."""
    import incidentflow.scenario as sc

    keep = sc._load_expected
    sc._load_expected = lambda path: None  # type: ignore[assignment]
    try:
        scenario = load_scenario(folder)
    finally:
        sc._load_expected = keep  # type: ignore[assignment]
    exp = read_yaml(folder / "expected.yaml") if (folder / "expected.yaml").exists() else {}
    incidents = exp.get("incidents") or []
    if not incidents:
        return scenario, [], "", "control"
    rc = incidents[0]["root_cause"]
    label = str(incidents[0].get("source_fault_type") or rc["fault_type"])
    return scenario, [str(rc["service"])], str(rc["fault_type"]), label


def _oracle(folder: Path) -> None:
    """Diagnosis: make the engine's onset detection return the injection time, to separate
    onset errors from ranking errors. Never used for a reported figure."""
    import incidentflow.agents.investigation.gather as gather

    at = _time(json.loads((folder / "truth.json").read_text())["inject_time_utc"])
    gather.detect_onset = lambda series, after, hurts: at  # type: ignore[assignment]


CASES_CSV = Path(__file__).resolve().parents[2] / "shared/data/nezha-online-boutique/cases.csv"


def _bundle_injections() -> list[tuple[datetime, datetime]]:
    """(window start, injection) of each Nezha case, from the data set's `cases.csv` (read
    here, to score converted bundles' onsets only)."""
    if not CASES_CSV.exists():
        return []
    with CASES_CSV.open() as fh:
        return [
            (_time(r["window_start_utc"]), _time(r["inject_time_utc"]))
            for r in csv.DictReader(fh)
            if r["inject_time_utc"]
        ]


def onset_report(folders: list[Path]) -> None:
    """How far the onset the engine settles on lies from the injection (raw cases only):
    the cut `gather.settle_cut` returns, per case, and how many fall within 1 and 2 minutes."""
    import incidentflow.agents.investigation as inv

    settle = inv.settle_cut
    seen: list[Any] = []

    def spy(window: Any, series: Any) -> Any:
        out = settle(window, series)
        seen.append(out)
        return out

    inv.settle_cut = spy  # type: ignore[assignment]
    offs: list[float] = []
    injections = _bundle_injections()
    for folder in folders:
        if (folder / "scenario.yaml").exists():
            scenario, roots, _, label = bundle_case(folder)
            if not roots:
                continue
            start = min((p.at for s in scenario.metrics for p in s.points), default=None)
            opened = [(w, t) for w, t in injections if start is not None and w <= start]
            if not opened:
                continue
            at = max(opened)[1]
        elif (folder / "truth.json").exists():
            scenario, _, _, label = nezha_case(folder)
            at = _time(json.loads((folder / "truth.json").read_text())["inject_time_utc"])
        else:
            continue
        seen.clear()
        run_offline(scenario)
        if not seen:
            continue
        cut = max(seen, key=lambda w: w.end - w.start).cut
        offs.append((cut - at).total_seconds())
        print(f"{folder.name[:40]:40} {label:16} onset {offs[-1]:+6.0f} s")
    within = {m: sum(abs(o) <= 60 * m for o in offs) for m in (1, 2)}
    # A sample describes the minute before it: the first two samples after the injection.
    after = sum(0 <= o < 120 for o in offs)
    print(
        f"onsets {len(offs)}: within 1 min {within[1]}, within 2 min {within[2]}, "
        f"first two samples after the injection {after}"
    )


def ranked(invs: list[Investigation]) -> list[tuple[str, str, float]]:
    """The ranking of the incident whose investigation looked at most (the main incident)."""
    if not invs:
        return []
    best = max(invs, key=lambda i: (len(i.evidence), len(i.hypotheses)))
    return [(h.service, h.fault_type.value, h.confidence) for h in best.hypotheses]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("-v", action="store_true")
    parser.add_argument("-k", default="")
    parser.add_argument(
        "--oracle-onset", action="store_true", help="diagnosis only: onset from truth.json"
    )
    parser.add_argument("-d", action="store_true", help="print each hypothesis' cause")
    parser.add_argument(
        "--onsets", action="store_true", help="diagnosis: the engine's onset against truth.json"
    )
    parser.add_argument("--detector", default="", help="diagnosis: anomaly.<name> as the onset")
    args = parser.parse_args()
    if args.detector:
        import incidentflow.agents.investigation.anomaly as anomaly
        import incidentflow.agents.investigation.gather as gather

        gather.detect_onset = getattr(anomaly, args.detector)
    folders = sorted(p for p in args.folder.iterdir() if p.is_dir() and args.k in p.name)
    if args.onsets:
        onset_report(folders)
        return
    hits = Counter[str]()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    conf: list[tuple[float, bool]] = []
    n = 0
    for folder in folders:
        if (folder / "scenario.yaml").exists():
            scenario, roots, ftype, label = bundle_case(folder)
        else:
            scenario, roots, ftype, label = nezha_case(folder)
        if not roots:
            continue
        if args.oracle_onset and not (folder / "scenario.yaml").exists():
            _oracle(folder)
        _, invs = run_offline(scenario)
        ranking = ranked(invs)
        services = [r[0] for r in ranking]
        n += 1
        rank = next((i for i, s in enumerate(services) if s in roots), None)
        for k in (1, 3, 5):
            if rank is not None and rank < k:
                hits[f"@{k}"] += 1
                per[label][f"@{k}"] += 1
        type_ok = bool(ranking) and ranking[0][1] == ftype
        hits["type"] += type_ok
        per[label]["type"] += type_ok
        per[label]["n"] += 1
        for i, (_, _, c) in enumerate(ranking):
            conf.append((c, services[i] in roots))
        if args.v or rank != 0:
            top = ", ".join(f"{s}:{t[:4]}:{c:.2f}" for s, t, c in ranking[:5])
            print(f"{folder.name[:40]:40} {label:16} rank={rank} [{top}]")
            if args.d:
                best = max(invs, key=lambda i: (len(i.evidence), len(i.hypotheses)))
                for h in best.hypotheses:
                    print(f"    {h.service} {h.confidence}: {h.cause[:150]}")
                for r in best.rejected:
                    if r.service in roots:
                        print(f"    REJECTED {r.service}: {r.reason[:150]}")
    print(
        f"cases {n}: "
        + "  ".join(f"{k} {hits[k] / max(n, 1):.1%}" for k in ("@1", "@3", "@5", "type"))
    )
    for label, c in sorted(per.items()):
        m = c["n"]
        print(
            f"  {label:20} n={m:2} "
            + " ".join(f"{k} {c[k] / m:.0%}" for k in ("@1", "@3", "@5", "type"))
        )
    print("reliability (confidence bin: hypotheses, right):")
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        inbin = [ok for c, ok in conf if lo <= c < lo + 0.2 or (lo == 0.8 and c == 1.0)]
        if inbin:
            print(f"  [{lo:.1f},{lo + 0.2:.1f}) {len(inbin):4} right {sum(inbin) / len(inbin):.0%}")


if __name__ == "__main__":
    sys.exit(main())
