"""A scenario bundle served as an evidence source: the demo's, the eval's and the tests' world.

The bundle's format and loading are `incidentflow.scenario`; this module answers the
investigation's questions from a loaded bundle, shifted onto the incident it is asked about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from incidentflow.evidence import (
    CapacityRecord,
    ChangeRecord,
    LogLevel,
    LogRecord,
    MetricSeries,
    NodeRecord,
    Runbook,
    SpanRecord,
)
from incidentflow.models import Alert
from incidentflow.scenario import Scenario
from incidentflow.sources.capacity import failing
from incidentflow.sources.files import match_runbooks, utc


class BundleEvidenceSource:
    """Serves a scenario's recorded changes, logs and metrics as an `EvidenceSource`.

    A bundle is recorded at fixed times while the demo fires its alerts now, so `aligned`
    replays the world shifted onto the incident: when the incident carries an alert whose
    fingerprint the bundle knows, that alert's two start times are lined up; otherwise the
    bundle's earliest alert `startsAt` is put on the incident's earliest `starts_at`. Queries
    then return only data inside the requested window.
    """

    def __init__(self, scenario: Scenario, *, name: str = "bundle") -> None:
        # The answer never reaches the agents through their evidence.
        self._scenario = (
            scenario
            if scenario.expected is None
            else scenario.model_copy(update={"expected": None})
        )
        self._name = name

    @property
    def name(self) -> str:
        """Recorded as `Evidence.source`."""
        return self._name

    @property
    def scenario(self) -> Scenario:
        """The (possibly shifted) scenario this source serves."""
        return self._scenario

    def offset_for(self, alerts: Sequence[Alert]) -> timedelta:
        """How far the bundle must move to line up with `alerts` (see class docstring)."""
        if not alerts:
            return timedelta(0)
        recorded = self._scenario.alert_starts()
        if not recorded:
            return timedelta(0)
        known = sorted((a.starts_at, a.fingerprint) for a in alerts if a.fingerprint in recorded)
        if known:
            at, fp = known[0]
            return utc(at) - recorded[fp]
        return utc(min(a.starts_at for a in alerts)) - min(recorded.values())

    def aligned(self, alerts: Sequence[Alert]) -> BundleEvidenceSource:
        """This bundle replayed onto the incident whose alerts these are."""
        delta = self.offset_for(alerts)
        if not delta:
            return self
        return BundleEvidenceSource(self._scenario.shifted(delta), name=self._name)

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """Recorded changes to `services` within the window, oldest first."""
        wanted = set(services)
        lo, hi = utc(start), utc(end)
        found = [c for c in self._scenario.changes if c.service in wanted and lo <= c.at <= hi]
        return sorted(found, key=lambda c: (c.at, c.id))

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """Recorded log lines of `services` at `min_level` or worse within the window."""
        wanted = set(services)
        lo, hi = utc(start), utc(end)
        return [
            r
            for r in self._scenario.logs
            if r.service in wanted and lo <= r.at <= hi and r.level.rank >= min_level.rank
        ]

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """Series of `services`, cut to the window; series with no point in it are left out."""
        wanted = set(services)
        lo, hi = utc(start), utc(end)
        out: list[MetricSeries] = []
        for series in self._scenario.metrics:
            if series.service not in wanted:
                continue
            points = [p for p in series.points if lo <= p.at <= hi]
            if points:
                out.append(series.model_copy(update={"points": points}))
        return out

    def spans(self, *, services: Sequence[str], start: datetime, end: datetime) -> list[SpanRecord]:
        """Every span of each recorded trace that touches `services` within the window."""
        wanted = set(services)
        lo, hi = utc(start), utc(end)
        traces = {
            s.trace_id
            for s in self._scenario.spans
            if s.service in wanted and s.start <= hi and s.end >= lo
        }
        return [s for s in self._scenario.spans if s.trace_id in traces]

    def runbooks(self, *, alertnames: Sequence[str], services: Sequence[str]) -> list[Runbook]:
        """The bundle's runbooks whose front matter names one of the alerts or services."""
        return match_runbooks(
            self._scenario.runbooks, alertnames=list(alertnames), services=list(services)
        )

    def capacity(self, *, services: Sequence[str]) -> list[CapacityRecord]:
        """The recorded Deployments (replicas, requests/limits, HPA, pods) of `services`."""
        wanted = set(services)
        return [d for d in self._scenario.deployments if d.service in wanted]

    def nodes(self, *, names: Sequence[str]) -> list[NodeRecord]:
        """The recorded nodes called `names`, with the services whose pods run (and fail) there."""
        wanted = set(names)
        out: list[NodeRecord] = []
        for node in self._scenario.nodes:
            if node.name not in wanted:
                continue
            pods = [(d.service, p) for d in self._scenario.deployments for p in d.pods]
            here = [(svc, p) for svc, p in pods if p.node == node.name]
            out.append(
                node.model_copy(
                    update={
                        "services": sorted({svc for svc, _ in here}),
                        "failing_services": sorted({svc for svc, p in here if failing(p)}),
                    }
                )
            )
        return out
