"""Edges from traces: a span whose parent belongs to another service is a call to it.

Parent span on `frontend`, child span on `payments`: `frontend -> payments`. Spans whose
parent is missing from what the source returned (a trace cut by the window) teach nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from incidentflow.evidence import SpanRecord, SpanSource
from incidentflow.graphs.edges import Edge, EdgeOrigin, clean

Window = Callable[[datetime], tuple[datetime, datetime]]


def edges_from_spans(spans: Iterable[SpanRecord]) -> set[Edge]:
    """Caller -> callee for every span whose parent span ran on another service."""
    spans = list(spans)
    service_of = {(s.trace_id, s.span_id): s.service for s in spans}
    found: set[Edge] = set()
    for span in spans:
        if span.parent_id is None:
            continue
        parent = service_of.get((span.trace_id, span.parent_id))
        if parent is not None:
            found.add((parent, span.service))
    return clean(found)


def trailing(lookback: timedelta) -> Window:
    """The window ending now, `lookback` long: what a live trace store is asked for."""
    return lambda now: (now - lookback, now)


class SpanEdgeLearner:
    """Edges from a source that holds traces (a scenario bundle; a trace store later)."""

    def __init__(self, source: SpanSource, *, name: str, window: Window) -> None:
        self._source = source
        self._name = name
        self._window = window

    @property
    def name(self) -> str:
        return self._name

    @property
    def origin(self) -> EdgeOrigin:
        return EdgeOrigin.SPANS

    def learn(self, *, known: Sequence[str], now: datetime) -> set[Edge]:
        """Edges in the traces that touch the known services within the window."""
        if not known:
            return set()
        start, end = self._window(now)
        return edges_from_spans(self._source.spans(services=known, start=start, end=end))
