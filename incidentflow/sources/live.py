"""The common ground of live evidence sources (Prometheus, Loki, change logs, runbooks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self

from incidentflow.evidence import ChangeRecord, LogLevel, LogRecord, MetricSeries
from incidentflow.models import Alert


class LiveSource:
    """A source that answers on the incident's own clock and holds one or two kinds of
    evidence; it overrides those, and the kinds it lacks answer empty."""

    _name: str

    @property
    def name(self) -> str:
        """Recorded as `Evidence.source`."""
        return self._name

    def aligned(self, alerts: Sequence[Alert]) -> Self:
        """A live source is already on the incident's clock."""
        return self

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """No changes unless the source overrides this."""
        return []

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """No logs unless the source overrides this."""
        return []

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """No metrics unless the source overrides this."""
        return []
