"""Turn raw changes, logs and metric series into findings, each with its `Evidence`.

Findings compare the incident window with a baseline taken before it, so what counts as a
jump or a new error depends on each series' own history rather than fixed thresholds: metric
onsets are change points found by a one-sided CUSUM of the series standardised against its
baseline; log lines are mined into templates and compared with the baseline's.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from incidentflow.agents.common import ago, hhmm
from incidentflow.agents.investigation.templates import mine
from incidentflow.evidence import ChangeRecord, LogLevel, LogRecord, MetricSeries
from incidentflow.models import Evidence, EvidenceKind

# A shift must average this many baseline deviations away from the baseline mean...
JUMP_Z = 4.0
# CUSUM: deviations under K sigma are treated as noise; the sum must pass H sigma to alarm.
CUSUM_K = 1.0
CUSUM_H = 8.0
# ...and be this much larger in relative terms, so a flat baseline's tiny sigma cannot
# turn a wobble into a jump.
JUMP_RATIO = 1.5
# Baselines with almost no variance get this fraction of their mean as a sigma floor.
SIGMA_FLOOR = 0.05
# Error lines that say a call to someone else failed, not that this service is broken.
DEPENDENCY_FAILURE = re.compile(
    r"timed? ?out|deadline exceeded|connection refused|unavailable|reset by peer|"
    r"\b50[234]\b|upstream|circuit (breaker )?open",
    re.IGNORECASE,
)
_HEX_ID = re.compile(r"\b[0-9a-f]{8,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
LOG_SIGNATURES_PER_SERVICE = 2
# Values a metric evidence carries for the incident page's sparkline: enough for a shape, a
# few hundred bytes of payload.
SPARKLINE_POINTS = 48
# What a series measures, from its name: decides which direction hurts and the fault it hints.
SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("availability", re.compile(r"(^|_)up$|availability|success_ratio", re.I)),
    ("saturation", re.compile(r"cpu|memory|mem_|heap|disk|connections|pool|fd|saturation", re.I)),
    ("traffic", re.compile(r"request_rate|requests_per|rps|throughput|qps", re.I)),
    ("errors", re.compile(r"error|5xx|fail", re.I)),
    ("latency", re.compile(r"latency|duration|seconds", re.I)),
)


def signal_of(name: str) -> str:
    """errors | latency | saturation | traffic | availability | other."""
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


def change_point(values: list[float], mean: float, sigma: float) -> int | None:
    """Index where a sustained shift away from the baseline begins, or None (one-sided CUSUM)."""
    total = 0.0
    began = 0
    for i, value in enumerate(values):
        step = (value - mean) / sigma - CUSUM_K
        if total + step <= 0:
            total, began = 0.0, i + 1
            continue
        total += step
        if total > CUSUM_H:
            return min(began, i)
    return None


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


def metric_finding(series: MetricSeries, window: Window, source: str) -> MetricFinding | None:
    """Find the change point of a series after `cut` against its own baseline."""
    base = [p.value for p in series.points if window.start <= p.at < window.cut]
    after = [p for p in series.points if window.cut <= p.at <= window.end]
    if len(base) < 3 or not after:
        return None
    signal = signal_of(series.name)
    # Availability hurts when it falls; everything else we read hurts when it grows.
    sign = -1.0 if signal == "availability" else 1.0
    mean = statistics.fmean(base)
    sigma = max(statistics.pstdev(base), SIGMA_FLOOR * abs(mean), 1e-9)
    idx = change_point([sign * p.value for p in after], sign * mean, sigma)
    jump_at = after[idx].at if idx is not None else None
    tail = [p.value for p in after[idx or 0 :]] if idx is not None else [p.value for p in after]
    after_mean = statistics.fmean(tail)
    z = sign * (after_mean - mean) / sigma
    ratio_ok = (
        after_mean >= mean * JUMP_RATIO if sign > 0 else after_mean <= mean / JUMP_RATIO
    ) or mean == 0
    if jump_at is not None and (z < JUMP_Z or not ratio_ok):
        jump_at = None  # the sum crossed, but the shift is too small to matter
    unit = series.unit
    if jump_at is not None:
        verb = "rose" if sign > 0 else "fell"
        finding = (
            f"{series.service} {series.name} {verb} from {_fmt(mean, unit)} (baseline mean over "
            f"{len(base)} points, sigma {_fmt(sigma, unit)}) to {_fmt(after_mean, unit)}; "
            f"change point at {hhmm(jump_at)}: z={z:.0f}, {_ratio(after_mean, mean)}"
        )
        big = after_mean / mean if sign > 0 and mean > 0 else 4.0
        weight = round(min(0.9, 0.5 + 0.1 * math.log2(max(big, 1.0))), 2)
    else:
        finding = (
            f"{series.service} {series.name} stayed at baseline: {_fmt(after_mean, unit)} during "
            f"the incident vs {_fmt(mean, unit)} before (z={z:.1f}, no change point)"
        )
        weight = 0.0
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
            "baseline_mean": f"{mean:.6g}",
            "incident_mean": f"{after_mean:.6g}",
            "z": f"{z:.1f}",
            **({"onset": jump_at.isoformat()} if jump_at else {}),
        },
        **sparkline_points(series, window),
    )
    return MetricFinding(series, mean, after_mean, z, jump_at, evidence, signal)


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
    ranked: list[tuple[int, str, list[LogRecord], list[LogRecord], str | None]] = []
    for (points_to, sig), recs in groups.items():
        before = [r for r in recs if r.at < window.cut]
        after = [r for r in recs if r.at >= window.cut]
        # New means absent before, or at least three times the baseline rate now.
        rate_up = len(after) / after_minutes >= 3 * len(before) / base_minutes
        if len(after) >= 3 and rate_up:
            ranked.append((len(after), sig, before, after, points_to))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    out: list[LogFinding] = []
    for n, (count, sig, before, after, points_to) in enumerate(
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
            )
        )
    return out


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
