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
onset is found in the data as the start of the latest excursion: per series, Page's
one-sided CUSUM run forward (Page, "Continuous inspection schemes", Biometrika 1954) with the
textbook constants k = 0.5 sigma and h = 5 sigma (Montgomery, *Introduction to Statistical
Quality Control*, section on the tabular CUSUM), each point standardised against the series'
median and its noise (the MAD of successive differences, which a level shift does not
inflate), and winsorised so that a lone outlier cannot raise an alarm (Hawkins,
"Robustification of cumulative sum charts by winsorization", J. Quality Technology 1993).
The change is dated at the last sample where the sum was zero before the alarm. The latest
such start over all series is the onset: in a window that opens while the previous fault is
still fading, that older, larger change is not the incident's (a single split of the window
preferred it; docs/rca.md measures both).

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
# Page's CUSUM for the onset: the reference value k is half the shift it is tuned to find
# (1 sigma), and the decision interval h = 5 sigma gives an in-control run length of about
# 465 samples (Montgomery, Introduction to Statistical Quality Control, table of CUSUM ARLs):
# a false alarm per series about once in eight hours of one-minute samples.
CUSUM_K = 0.5
CUSUM_H = 5.0


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


def excursions(values: Sequence[float], sign: int = 1, floor: float | None = None) -> list[int]:
    """Start indices of the series' excursions in the direction that hurts, by Page's
    one-sided CUSUM run forward: S_t = max(0, S_{t-1} + z_t - CUSUM_K), an alarm once
    S_t > CUSUM_H, the excursion starting just after the last t where S was 0.

    z_t is the point's distance from the series' median (a fault covers less than half of
    the window) in units of its noise (the MAD of successive differences, which a level
    shift does not inflate), winsorised at CUSUM_H / SUSTAIN + CUSUM_K: `SUSTAIN` points at
    the clip bring S exactly to h, so an alarm takes a move held longer than that, and one
    bad scrape of a flat series is not an excursion however far it jumps.
    """
    if not values:
        return []
    med = statistics.median(values)
    least = SCALE_FLOOR * abs(med) if floor is None else floor
    scale = max(noise_scale(values), least, 1e-9)
    clip = CUSUM_H / SUSTAIN + CUSUM_K
    starts: list[int] = []
    level = 0.0
    last_zero = -1
    alarmed = False
    for i, v in enumerate(values):
        z = min(sign * (v - med) / scale, clip)
        level = max(0.0, level + z - CUSUM_K)
        if level == 0.0:
            last_zero, alarmed = i, False
        elif level > CUSUM_H and not alarmed:
            alarmed = True
            starts.append(last_zero + 1)
    return starts


def detect_onset(
    series: Sequence[MetricSeries],
    *,
    after: datetime,
    hurts: Callable[[MetricSeries], int] = lambda s: 1,
    floor: Callable[[MetricSeries], float | None] = lambda s: None,
) -> datetime | None:
    """The start of the latest excursion in the data (at or after `after`): per series the
    excursions Page's CUSUM alarms on (`excursions`); the latest start among them wins, so an
    older, larger change still fading in the window (the previous fault) does not outvote
    the current one. `floor` is a series' least noise scale where `SCALE_FLOOR` of its
    median does not fit (a bounded availability), as in `score_series`. None when no series
    has an excursion."""
    starts: list[datetime] = []
    for s in series:
        pts = s.points
        n = len(pts)
        for i in excursions([p.value for p in pts], hurts(s), floor(s)):
            # The scores need a baseline before the onset and a sustained move after it.
            if i >= MIN_HISTORY and n - i >= SUSTAIN and pts[i].at >= after:
                starts.append(pts[i].at)
    if not starts:
        return None
    # Series scraped a few seconds apart describe the same sample: its earliest time, so
    # that every series counts that sample as the incident's.
    latest, half = max(starts), _step(series) / 2
    return min(t for t in starts if latest - t < half)


def squash(z: float) -> float:
    """A deviation as a 0..1 strength: ANOMALY_Z maps to 0.5, growing slowly after."""
    z = abs(z)
    return z / (z + ANOMALY_Z)
