"""Robust metric anomaly scores and the incident's onset, from each series' own history.

Scoring follows BARO's RobustScorer (Pham, Ha, Zhang, "BARO: Robust Root Cause Analysis for
Microservices via Multivariate Bayesian Online Change Point Detection", FSE 2024): the points
before the onset are the series' normal behaviour, each point after it is standardised with
the median and the inter-quartile range of that normal period, and a series scores its
largest standardised deviation. Two departures, both for short, coarse windows:

* a deviation must hold for `SUSTAIN` consecutive samples (when the series has that many
  after the onset), so one scrape of a quantised latency quantile cannot outrank a CPU that
  stayed pinned for minutes;
* the scale is at least `SCALE_FLOOR` of the median's magnitude, so a flat series (IQR 0)
  does not turn a wobble into an infinite score;
* only the direction that hurts counts (up for latency, saturation, errors; down for
  availability): traffic that falls at a callee is its caller's problem showing.

Where the alerts give no usable onset (they were already firing when the data begins), the
onset is found in the data as the single change point that best splits all series at once:
per series the standardised CUSUM statistic of a mean shift at each sample (Page,
"Continuous inspection schemes", Biometrika 1954), in the direction that hurts, with the
noise read from the MAD of successive differences (a level shift does not inflate it); the
positive parts are summed over the series, as a panel CUSUM does (Horvath and Huskova,
"Change-point detection in panel data", J. Time Series Analysis 2012). It has no knob of its
own. docs/rca.md measures it against the detector it replaced (which found the onset more
often on the dev set: a single split prefers an older, larger change in the window).

"No data" (no point in the window), "no history" (fewer than `MIN_HISTORY` points before the
onset) and "no change" are distinct outcomes, reported as such.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from incidentflow.evidence import MetricPoint, MetricSeries

# Fewer points than this before the onset are no baseline at all: a median of three is the
# least that a single outlier cannot move.
MIN_HISTORY = 3
# A deviation counts when it holds for this many consecutive samples (a fault lasts; a
# single bad scrape does not).
SUSTAIN = 2
# Scale floor as a fraction of |median|: a 5% move of a flat series is one unit.
SCALE_FLOOR = 0.25
# The MAD of normal data times this is its standard deviation.
MAD_TO_SIGMA = 1.4826
# Availability (a success ratio, `up`) is bounded: its scale floor is this share of its full
# range (one point of a percentage), not of its median, so 100% -> 95% is a shift.
BOUNDED_FLOOR = 0.01
# A standardised deviation this large is anomalous: with a normal baseline, IQR is about
# 1.35 sigma, so 3 IQR is about 4 sigma (well outside noise).
ANOMALY_Z = 3.0


class SeriesStatus(StrEnum):
    NO_DATA = "no_data"
    NO_HISTORY = "no_history"
    NO_CHANGE = "no_change"
    ANOMALOUS = "anomalous"


@dataclass(frozen=True)
class SeriesAnomaly:
    """How far a series moved after the onset, against its own history."""

    status: SeriesStatus
    z: float = 0.0  # sustained robust deviation, in IQR units; signed (+ up, - down)
    at: datetime | None = None  # first sample of the sustained deviation
    median: float = 0.0
    scale: float = 0.0
    peak: float = 0.0  # the value at the deviation's most extreme sample
    history: int = 0  # points before the onset
    after: int = 0  # points from the onset on

    @property
    def anomalous(self) -> bool:
        return self.status is SeriesStatus.ANOMALOUS


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of `values` (0 <= q <= 1)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def robust_scale(values: Sequence[float], floor: float | None = None) -> tuple[float, float]:
    """(median, scale): scale is the MAD (as a sigma), floored at `SCALE_FLOOR` of |median|
    (or at `floor`, for a bounded quantity whose floor is a share of its range)."""
    med = statistics.median(values)
    mad = MAD_TO_SIGMA * statistics.median(abs(v - med) for v in values)
    least = SCALE_FLOOR * abs(med) if floor is None else floor
    return med, max(mad, least, 1e-9)


def _sustained(devs: list[float], n: int) -> list[float]:
    """Per start index, the smallest |deviation| over the next `n` samples, signed."""
    if len(devs) < n:
        n = len(devs)
    out: list[float] = []
    for i in range(len(devs) - n + 1):
        run = devs[i : i + n]
        if all(d > 0 for d in run) or all(d < 0 for d in run):
            out.append(min(run, key=abs))
        else:
            out.append(0.0)
    return out


def score_series(
    points: Sequence[MetricPoint], onset: datetime, *, hurts: int = 1, floor: float | None = None
) -> SeriesAnomaly:
    """The series' sustained robust deviation from its history before `onset`.

    `hurts` is the direction that means trouble: +1 (latency, CPU, errors grow), -1
    (availability falls). A move the other way is a consequence, not a cause (a caller that
    stopped calling lowers its callee's traffic), and scores as no change.
    """
    if not points:
        return SeriesAnomaly(SeriesStatus.NO_DATA)
    base = [p.value for p in points if p.at < onset]
    after = [p for p in points if p.at >= onset]
    if len(base) < MIN_HISTORY or not after:
        return SeriesAnomaly(SeriesStatus.NO_HISTORY, history=len(base), after=len(after))
    med, scale = robust_scale(base, floor)
    devs = [(p.value - med) / scale for p in after]
    runs = _sustained(devs, SUSTAIN)
    best = max(range(len(runs)), key=lambda i: (hurts * runs[i], -i))
    z = runs[best] if hurts * runs[best] > 0 else 0.0
    peak_i = max(range(best, best + min(SUSTAIN, len(devs))), key=lambda i: abs(devs[i]))
    status = SeriesStatus.ANOMALOUS if hurts * z >= ANOMALY_Z else SeriesStatus.NO_CHANGE
    began = next((i for i, r in enumerate(runs) if hurts * r >= ANOMALY_Z), None)
    return SeriesAnomaly(
        status=status,
        z=z,
        at=after[began].at if status is SeriesStatus.ANOMALOUS and began is not None else None,
        median=med,
        scale=scale,
        peak=after[peak_i].value,
        history=len(base),
        after=len(after),
    )


def _step(series: Sequence[MetricSeries]) -> timedelta:
    """The typical sampling interval across the series (for lining their samples up)."""
    gaps = [
        (b.at - a.at).total_seconds()
        for s in series
        for a, b in zip(s.points, s.points[1:], strict=False)
        if b.at > a.at
    ]
    return timedelta(seconds=max(statistics.median(gaps), 1.0)) if gaps else timedelta(minutes=1)


def noise_scale(values: Sequence[float]) -> float:
    """The noise of a series that may hold a level shift: the MAD of its successive
    differences, over sqrt(2) (a shift moves one difference, not the median of them)."""
    diffs = [b - a for a, b in itertools.pairwise(values)]
    if not diffs:
        return 0.0
    return MAD_TO_SIGMA * statistics.median(abs(d) for d in diffs) / 2**0.5


def detect_onset(
    series: Sequence[MetricSeries],
    *,
    after: datetime,
    hurts: Callable[[MetricSeries], int] = lambda s: 1,
) -> datetime | None:
    """The sample (at or after `after`) that best splits all series at once: per series the
    standardised CUSUM statistic of a mean shift there, in the direction that hurts, summed
    over the series (Page 1954; the pooled form of the multivariate single change point)."""
    step = _step(series)
    origin = min((s.points[0].at for s in series if s.points), default=None)
    if origin is None:
        return None
    pooled: dict[int, float] = {}
    at: dict[int, datetime] = {}
    for s in series:
        pts = s.points
        n = len(pts)
        if n < MIN_HISTORY + SUSTAIN:
            continue
        vals = [p.value for p in pts]
        med = statistics.median(vals)
        scale = max(noise_scale(vals), SCALE_FLOOR * abs(med), 1e-9)
        sign = hurts(s)
        total = sum(vals)
        before = 0.0
        for i in range(1, n):
            before += vals[i - 1]
            if i < MIN_HISTORY or n - i < SUSTAIN or pts[i].at < after:
                continue
            shift = (total - before) / (n - i) - before / i
            stat = sign * shift / scale * (i * (n - i) / n) ** 0.5
            slot = int((pts[i].at - origin) / step + 0.5)
            if stat > 0:
                pooled[slot] = pooled.get(slot, 0.0) + stat
                at[slot] = min(at.get(slot, pts[i].at), pts[i].at)
    if not pooled:
        return None
    best = max(pooled, key=lambda k: (pooled[k], k))
    return at[best]


def squash(z: float) -> float:
    """A deviation as a 0..1 strength: ANOMALY_Z maps to 0.5, growing slowly after."""
    z = abs(z)
    return z / (z + ANOMALY_Z)
