"""Turn raw changes, logs and metric series into findings, each with its `Evidence`.

Findings compare the incident window with a baseline taken before it, so what counts as a
jump or a new error depends on each series' own history rather than fixed thresholds: metric
shifts are robust deviations from the series' own median and IQR (`anomaly`, after BARO);
log lines are mined into templates (`templates`, after Drain) and a template counts only
when its rate since the onset is well above its baseline rate.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from incidentflow.agents.common import ago, hhmm
from incidentflow.agents.investigation.anomaly import (
    ANOMALY_Z,
    BOUNDED_FLOOR,
    MIN_HISTORY,
    SeriesStatus,
    score_series,
    squash,
)
from incidentflow.agents.investigation.templates import mine
from incidentflow.evidence import ChangeRecord, LogLevel, LogRecord, MetricSeries
from incidentflow.models import Evidence, EvidenceKind

# Error lines that say a call to someone else failed, not that this service is broken.
DEPENDENCY_FAILURE = re.compile(
    r"timed? ?out|deadline exceeded|connection refused|unavailable|reset by peer|"
    r"\b50[234]\b|upstream|circuit (breaker )?open",
    re.IGNORECASE,
)
_HEX_ID = re.compile(r"\b[0-9a-f]{8,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
LOG_SIGNATURES_PER_SERVICE = 2
# Values a metric evidence carries for a sparkline (`show`, the incident page): enough for a
# shape, a few hundred bytes of payload.
SPARKLINE_POINTS = 48
# A template needs this many lines since the onset to be evidence at all.
MIN_LOG_LINES = 3
# What a series measures, from its name: decides which direction hurts and the fault it hints.
SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("availability", re.compile(r"(^|_)up$|availability|success", re.I)),
    ("saturation", re.compile(r"cpu|memory|mem_|heap|disk|connections|pool|fd|saturation", re.I)),
    ("traffic", re.compile(r"request_rate|requests_per|rps|throughput|qps", re.I)),
    ("errors", re.compile(r"error|5xx|fail", re.I)),
    # Time a service spends waiting on the services it calls: evidence about its callees.
    (
        "client_latency",
        re.compile(r"client.*(latency|duration)|(latency|duration).*client|upstream", re.I),
    ),
    ("latency", re.compile(r"latency|duration|seconds", re.I)),
)


def signal_of(name: str) -> str:
    """errors | client_latency | latency | saturation | traffic | availability | other."""
    return next((sig for sig, pattern in SIGNALS if pattern.search(name)), "other")


@dataclass(frozen=True)
class Window:
    """The investigation's time frame: baseline before `cut`, incident from `cut` on."""

    start: datetime
    cut: datetime
    onset: datetime
    end: datetime


@dataclass(frozen=True)
class ChangeFinding:
    change: ChangeRecord
    lead: timedelta  # how long before the onset it happened
    evidence: Evidence


@dataclass(frozen=True)
class MetricFinding:
    series: MetricSeries
    base_mean: float
    after_mean: float
    z: float
    jump_at: datetime | None
    evidence: Evidence
    signal: str = "other"
    status: SeriesStatus = SeriesStatus.NO_CHANGE

    @property
    def jumped(self) -> bool:
        return self.jump_at is not None


@dataclass(frozen=True)
class LogFinding:
    service: str
    signature: str
    sample: LogRecord
    count: int
    baseline_count: int
    first_at: datetime
    points_to: str | None  # the dependency these lines blame, if they blame one
    versions: tuple[str, ...]
    evidence: Evidence
    z: float = 0.0  # count since the onset vs the baseline rate (see `template_shift`)


def change_finding(change: ChangeRecord, window: Window, source: str) -> ChangeFinding:
    """A change with how long before the onset it landed."""
    lead = window.onset - change.at
    finding = (
        f"{change.service} {change.kind.value} {change.before} -> {change.after} by "
        f"{change.author} at {hhmm(change.at)}, {ago(lead)} before the first alert"
    )
    if change.description:
        finding += f": {change.description}"
    evidence = Evidence(
        id=f"ev-change-{change.id}",
        kind=EvidenceKind.CHANGE,
        source=source,
        service=change.service,
        query=f'changes{{service="{change.service}"}} @ {change.at.isoformat()}',
        start=change.at,
        end=change.at,
        finding=finding,
        link=change.link,
        weight=0.0,  # set by scoring, which knows whether the service failed afterwards
        attributes={
            "change_id": change.id,
            "kind": change.kind.value,
            "before": change.before,
            "after": change.after,
            "author": change.author,
        },
    )
    return ChangeFinding(change=change, lead=lead, evidence=evidence)


def sparkline_points(series: MetricSeries, window: Window) -> dict[str, Any]:
    """The series over the window, at most SPARKLINE_POINTS values, for the incident page to
    draw: Evidence's `points` and `points_cut` (the index where the incident begins)."""
    shown = [p for p in series.points if window.start <= p.at <= window.end]
    if len(shown) < 2:
        return {}
    stride = max(1, math.ceil(len(shown) / SPARKLINE_POINTS))
    kept = shown[::stride]
    cut = next((i for i, p in enumerate(kept) if p.at >= window.cut), None)
    return {"points": [float(f"{p.value:.4g}") for p in kept], "points_cut": cut}


def bounded_floor(series: MetricSeries) -> float | None:
    """The least scale of a bounded availability (a percentage or a ratio): `BOUNDED_FLOOR`
    of its full range; None for other series (their floor is a share of the median)."""
    if signal_of(series.name) != "availability":
        return None
    full = 100.0 if max((p.value for p in series.points), default=0.0) > 1.0 else 1.0
    return BOUNDED_FLOOR * full


def metric_finding(series: MetricSeries, window: Window, source: str) -> MetricFinding | None:
    """The series' robust deviation after `cut` from its own history (see `anomaly`)."""
    signal = signal_of(series.name)
    if signal == "availability":
        found = score_series(series.points, window.cut, hurts=-1, floor=bounded_floor(series))
    else:
        found = score_series(series.points, window.cut)
    if found.status is SeriesStatus.NO_DATA:
        return None
    unit = series.unit
    z = found.z
    if found.status is SeriesStatus.NO_HISTORY:
        finding = (
            f"{series.service} {series.name}: no baseline ({found.history} points before "
            f"{hhmm(window.cut)}, {MIN_HISTORY} needed), so no verdict"
        )
    elif found.anomalous and found.at is not None:
        verb = "rose" if z > 0 else "fell"
        finding = (
            f"{series.service} {series.name} {verb} from {_fmt(found.median, unit)} (median of "
            f"{found.history} points before {hhmm(window.cut)}, IQR {_fmt(found.scale, unit)}) "
            f"to {_fmt(found.peak, unit)} from {hhmm(found.at)}: {abs(z):.1f} IQR, "
            f"{_ratio(found.peak, found.median)}"
        )
    else:
        finding = (
            f"{series.service} {series.name} stayed at baseline: within {abs(z):.1f} IQR of "
            f"{_fmt(found.median, unit)} after {hhmm(window.cut)}"
        )
    weight = round(squash(z), 2) if found.anomalous else 0.0
    evidence = Evidence(
        id=f"ev-metric-{series.service}-{series.name}",
        kind=EvidenceKind.METRIC,
        source=source,
        service=series.service,
        query=series.query or f'{series.name}{{service="{series.service}"}}',
        start=window.start,
        end=window.end,
        finding=finding,
        link=series.link,
        weight=weight,
        attributes={
            "series": series.id,
            "signal": signal,
            "status": found.status.value,
            "baseline_median": f"{found.median:.6g}",
            "incident_peak": f"{found.peak:.6g}",
            "z": f"{z:.1f}",
            **({"onset": found.at.isoformat()} if found.at else {}),
        },
        **sparkline_points(series, window),
    )
    return MetricFinding(
        series, found.median, found.peak, z, found.at, evidence, signal, found.status
    )


def log_findings(
    service: str,
    logs: list[LogRecord],
    dependencies: list[str],
    window: Window,
    source: str,
) -> list[LogFinding]:
    """The service's most frequent templates that are new (or far more frequent) since `cut`."""
    groups: dict[tuple[str | None, str], list[LogRecord]] = defaultdict(list)
    for tpl in mine([rec.message for rec in logs]):
        for i in tpl.members:
            rec = logs[i]
            groups[(blamed_dependency(rec, dependencies), tpl.text)].append(rec)
    base_minutes = max((window.cut - window.start).total_seconds() / 60, 1.0)
    after_minutes = max((window.end - window.cut).total_seconds() / 60, 1.0)
    ranked: list[tuple[float, int, str, list[LogRecord], list[LogRecord], str | None]] = []
    for (points_to, sig), recs in groups.items():
        before = [r for r in recs if r.at < window.cut]
        after = [r for r in recs if r.at >= window.cut]
        z = template_shift(len(before), len(after), base_minutes, after_minutes)
        if len(after) >= MIN_LOG_LINES and z >= ANOMALY_Z:
            ranked.append((z, len(after), sig, before, after, points_to))
    ranked.sort(key=lambda r: (-r[0], -r[1], r[2]))
    out: list[LogFinding] = []
    for n, (z, count, sig, before, after, points_to) in enumerate(
        ranked[:LOG_SIGNATURES_PER_SERVICE], start=1
    ):
        sample = next((r for r in after if r.level.rank >= LogLevel.ERROR.rank), after[0])
        versions = tuple(
            sorted(
                {
                    r.attributes["service.version"]
                    for r in after
                    if "service.version" in r.attributes
                }
            )
        )
        levels = "/".join(sorted({r.level.value.upper() for r in after}))
        if points_to:
            what = f"{count} {levels} lines blaming {points_to}"
        else:
            what = f"{count} {levels} lines"
        finding = (
            f"{what} since {hhmm(after[0].at)} ({len(before)} in the baseline hour): "
            f"{sample.message!r}"
        )
        if versions:
            finding += f"; service.version={','.join(versions)}"
        evidence = Evidence(
            id=f"ev-log-{service}-{n}",
            kind=EvidenceKind.LOG,
            source=source,
            service=service,
            query=f'{{service="{service}"}} | level=~"warning|error|fatal" | template `{sig}`',
            start=window.start,
            end=window.end,
            finding=finding,
            link=sample.link,
            weight=0.1 if points_to else 0.7,
            attributes={
                "signature": sig,
                "z": f"{z:.1f}",
                "count": str(count),
                "baseline_count": str(len(before)),
                **({"points_to": points_to} if points_to else {}),
                **({"versions": ",".join(versions)} if versions else {}),
            },
        )
        out.append(
            LogFinding(
                service=service,
                signature=sig,
                sample=sample,
                count=count,
                baseline_count=len(before),
                first_at=after[0].at,
                points_to=points_to,
                versions=versions,
                evidence=evidence,
                z=z,
            )
        )
    return out


def template_shift(before: int, after: int, base_minutes: float, after_minutes: float) -> float:
    """How far a template's count since the onset exceeds what its baseline rate predicts,
    in Poisson standard deviations (a template as frequent as before scores about 0)."""
    expected = before * after_minutes / base_minutes
    return (after - expected) / math.sqrt(expected + 1.0)


def blamed_dependency(rec: LogRecord, dependencies: list[str]) -> str | None:
    """The dependency a log line says failed it (a timeout calling payments), if any."""
    if not DEPENDENCY_FAILURE.search(rec.message):
        return None
    peer = rec.attributes.get("peer.service") or rec.attributes.get("upstream")
    if peer in dependencies:
        return peer
    return next((d for d in dependencies if re.search(rf"\b{re.escape(d)}\b", rec.message)), None)


def signature(message: str) -> str:
    """The message with ids and numbers masked, so one bug gives one signature."""
    return _NUMBER.sub("<n>", _HEX_ID.sub("<id>", message))


def _fmt(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "seconds":
        return f"{value:.3g} s"
    return f"{value:.4g} {unit}".strip()


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.0f}x" if before > 0 else "from zero"
