"""Each evidence source asked on its own: one that errors or times out is left out and recorded.

Investigation asks every configured source; a source that is down must not sink the others'
answers (issue 13). `guarded` wraps each member so that a failure becomes a `SourceReport`
with state `error` and its reason, while a configuration error (a wrong URL scheme, a query
the server rejects) still raises: no retry fixes those, a person must.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import httpx

from incidentflow.errors import ConfigError, IncidentFlowError
from incidentflow.evidence import (
    CapacityRecord,
    CapacitySource,
    ChangeRecord,
    EvidenceSource,
    LogLevel,
    LogRecord,
    MetricSeries,
    NodeRecord,
    Runbook,
    RunbookSource,
    SpanRecord,
    SpanSource,
)
from incidentflow.models import Alert, SourceReport, SourceState
from incidentflow.sources.build import CompositeSource

T = TypeVar("T")
# What a source that is down, slow or talking nonsense raises; anything else is a bug.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    IncidentFlowError,
    httpx.HTTPError,
    OSError,
    TimeoutError,
    ValueError,
    subprocess.SubprocessError,
)
MAX_REASON_CHARS = 300


class SourceLedger:
    """How each source answered one investigation (safe to share between threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, int] = {}
        self._errors: dict[str, str] = {}

    def answered(self, name: str, count: int) -> None:
        """`name` answered a question with `count` records."""
        with self._lock:
            self._items[name] = self._items.get(name, 0) + count

    def failed(self, name: str, reason: str) -> None:
        """`name` did not answer; the first reason is kept."""
        with self._lock:
            self._errors.setdefault(name, reason[:MAX_REASON_CHARS])

    def is_down(self, name: str) -> bool:
        """True once `name` failed: it is not asked again in this investigation."""
        with self._lock:
            return name in self._errors

    def reports(self, names: Sequence[str]) -> list[SourceReport]:
        """One report per source in `names`, in that order."""
        with self._lock:
            out: list[SourceReport] = []
            for name in names:
                if name in self._errors:
                    out.append(
                        SourceReport(name=name, state=SourceState.ERROR, reason=self._errors[name])
                    )
                    continue
                items = self._items.get(name, 0)
                state = SourceState.OK if items else SourceState.NO_DATA
                reason = "" if items else "answered, but held nothing for these services"
                out.append(SourceReport(name=name, state=state, reason=reason, items=items))
            return out


class GuardedSource:
    """One source whose failures are recorded in a ledger instead of raised."""

    def __init__(self, inner: EvidenceSource, ledger: SourceLedger) -> None:
        self._inner = inner
        self._ledger = ledger

    @property
    def name(self) -> str:
        """The wrapped source's name."""
        return self._inner.name

    def aligned(self, alerts: Sequence[Alert]) -> GuardedSource:
        """The wrapped source lined up with the incident, still guarded."""
        return GuardedSource(self._inner.aligned(alerts), self._ledger)

    def _ask(self, question: Callable[[], list[T]]) -> list[T]:
        name = self._inner.name
        if self._ledger.is_down(name):
            return []
        try:
            found = question()
        except ConfigError:
            raise
        except UNAVAILABLE as err:
            self._ledger.failed(name, f"{type(err).__name__}: {err}")
            return []
        self._ledger.answered(name, len(found))
        return found

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """The source's changes, or none when it is down."""
        return self._ask(lambda: self._inner.changes(services=services, start=start, end=end))

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """The source's log lines, or none when it is down."""
        return self._ask(
            lambda: self._inner.logs(services=services, start=start, end=end, min_level=min_level)
        )

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """The source's series, or none when it is down."""
        return self._ask(lambda: self._inner.metrics(services=services, start=start, end=end))

    def spans(self, *, services: Sequence[str], start: datetime, end: datetime) -> list[SpanRecord]:
        """The source's spans (none if it holds no traces or is down)."""
        inner = self._inner
        if not isinstance(inner, SpanSource):
            return []
        return self._ask(lambda: inner.spans(services=services, start=start, end=end))

    def runbooks(self, *, alertnames: Sequence[str], services: Sequence[str]) -> list[Runbook]:
        """The source's runbooks (none if it holds none or is down)."""
        inner = self._inner
        if not isinstance(inner, RunbookSource):
            return []
        return self._ask(lambda: inner.runbooks(alertnames=alertnames, services=services))

    def capacity(self, *, services: Sequence[str]) -> list[CapacityRecord]:
        """The source's Deployments (none if it does not read a cluster or is down)."""
        inner = self._inner
        if not isinstance(inner, CapacitySource):
            return []
        return self._ask(lambda: inner.capacity(services=services))

    def nodes(self, *, names: Sequence[str]) -> list[NodeRecord]:
        """The source's nodes (none if it does not read a cluster or is down)."""
        inner = self._inner
        if not isinstance(inner, CapacitySource):
            return []
        return self._ask(lambda: inner.nodes(names=names))


def guarded(sources: Sequence[EvidenceSource], ledger: SourceLedger) -> CompositeSource:
    """All `sources` as one, each failing on its own into `ledger`."""
    return CompositeSource([GuardedSource(s, ledger) for s in sources])
