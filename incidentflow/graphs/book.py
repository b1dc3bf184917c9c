"""The graph the agents read: declared graph + learned edges, cached, refreshed on a schedule.

Activities ask `await book.graph(alerts)`: the alerts' peer labels are learned at once (no
I/O), and when the learned edges are older than the refresh interval a refresh of the other
learners starts in a worker thread. Only the very first refresh is waited for, and only for a
bounded time; later ones are read when they land, so a slow or dead source never holds an
alert up. A learner that fails keeps the edges it gave last and is recorded as `error` with
its reason (issue 13 item 7: record, don't fail). Nothing is contacted before the first ask:
building a book, or a worker starting, touches no network.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from incidentflow.agents.memo_graph import MemoGraph, memo_graph
from incidentflow.errors import IncidentFlowError
from incidentflow.graphs.edges import Edge, EdgeLearner, EdgeOrigin, merge
from incidentflow.graphs.labels import PeerLabels
from incidentflow.models import Alert, ServiceGraph

log = logging.getLogger("incidentflow.graph")

# The first refresh after start is waited for this long, so the first alerts already see
# what Prometheus knows; a refresh never holds an alert longer (the HTTP timeout is 5 s).
FIRST_WAIT_S = 6.0
# Alert labels are untrusted input: a storm of made-up peers must not grow the graph without
# bound. Far above any real shop's call count; the edges named longest ago go first.
MAX_LABEL_EDGES = 5000


class LearnerState(StrEnum):
    PENDING = "pending"
    OK = "ok"
    ERROR = "error"


@dataclass
class LearnerStatus:
    """One learner's last answer: its edges, when, and why not when it failed."""

    name: str
    origin: EdgeOrigin
    state: LearnerState = LearnerState.PENDING
    edges: set[Edge] = field(default_factory=set)
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class GraphPlan:
    """What a book learns from and how often; built from Settings in `incidentflow.context`."""

    declared: ServiceGraph
    declared_origin: str | None
    learners: Sequence[EdgeLearner] = ()
    labels: PeerLabels | None = None
    refresh: timedelta = timedelta(minutes=5)
    label_ttl: timedelta = timedelta(hours=24)


class GraphBook:
    """The merged graph, cached; see the module docstring for when it is refreshed."""

    def __init__(
        self, plan: GraphPlan, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._plan = plan
        self._clock = clock
        self._lock = threading.Lock()
        self._status = [LearnerStatus(name=x.name, origin=x.origin) for x in plan.learners]
        # Edge -> when an alert last named it.
        self._label_edges: dict[Edge, datetime] = {}
        # Services alerts have named (oldest first): a trace store is asked about these.
        self._seen: dict[str, None] = {}
        self._refreshed_at: datetime | None = None
        self._ever_refreshed = False
        self._task: asyncio.Future[None] | None = None
        self._cached: MemoGraph = memo_graph(plan.declared)
        self._cached_key: tuple[frozenset[Edge], ...] = ()
        self._overruled: tuple[Edge, ...] = ()

    @property
    def declared(self) -> ServiceGraph:
        return self._plan.declared

    def snapshot(self) -> MemoGraph:
        """The graph as known now (no I/O): declared, plus every learned edge not overruled."""
        with self._lock:
            now = self._clock()
            ttl = self._plan.label_ttl
            self._label_edges = {e: t for e, t in self._label_edges.items() if now - t <= ttl}
            parts = (
                *(frozenset(s.edges) for s in self._status),
                frozenset(self._label_edges),
            )
            if parts != self._cached_key:
                merged = merge(self._plan.declared, set().union(*parts))
                self._cached, self._cached_key = memo_graph(merged.graph), parts
                self._overruled = merged.overruled
            return self._cached

    def observe(self, alerts: Sequence[Alert]) -> bool:
        """Learn the calls these alerts name in their labels (no I/O); True if one is new."""
        rules = self._plan.labels
        if rules is None:
            return False
        now = self._clock()
        new = False
        with self._lock:
            for alert in alerts:
                own = rules.own_service(alert)
                if own is not None:
                    self._seen.pop(own, None)
                    self._seen[own] = None
                edge = rules.edge(alert)
                if edge is not None:
                    new = new or edge not in self._label_edges
                    self._label_edges.pop(edge, None)
                    self._label_edges[edge] = now  # re-inserted: the dict stays oldest first
            while len(self._label_edges) > MAX_LABEL_EDGES:
                del self._label_edges[next(iter(self._label_edges))]
            while len(self._seen) > MAX_LABEL_EDGES:
                del self._seen[next(iter(self._seen))]
        return new

    async def graph(self, alerts: Sequence[Alert] = ()) -> MemoGraph:
        """The graph for an activity that is handling `alerts` (see the module docstring)."""
        if self.observe(alerts):
            log.info("service graph now: %s", self.describe())
        if self._plan.learners:
            if self._due() and (self._task is None or self._task.done()):
                self._refreshed_at = self._clock()
                self._task = asyncio.ensure_future(asyncio.to_thread(self.refresh))
            if not self._ever_refreshed and self._task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), FIRST_WAIT_S)
                except TimeoutError:
                    log.warning(
                        "service graph: first refresh still running after %ss", FIRST_WAIT_S
                    )
        return self.snapshot()

    def _due(self) -> bool:
        last = self._refreshed_at
        return last is None or self._clock() - last >= self._plan.refresh

    def refresh(self) -> None:
        """Ask every learner once (blocking I/O); a failure is recorded, never raised."""
        before = self.describe()
        with self._lock:
            known = sorted({s.name for s in self._cached.services} | set(self._seen))
        for learner, status in zip(self._plan.learners, self._status, strict=True):
            now = self._clock()
            try:
                edges = learner.learn(known=known, now=now)
            except (IncidentFlowError, OSError, ValueError) as err:
                with self._lock:
                    reason = (str(err) or type(err).__name__).splitlines()[0]
                    status.state, status.reason = LearnerState.ERROR, reason
                log.warning("service graph: %s did not answer: %s", learner.name, status.reason)
                continue
            with self._lock:
                status.state, status.edges, status.at, status.reason = (
                    LearnerState.OK,
                    edges,
                    now,
                    "",
                )
        self._ever_refreshed = True
        self.snapshot()
        after = self.describe()
        if after != before:
            log.info("service graph now: %s", after)

    def statuses(self) -> list[LearnerStatus]:
        """Each learner's last answer (copies)."""
        with self._lock:
            return [
                LearnerStatus(s.name, s.origin, s.state, set(s.edges), s.at, s.reason)
                for s in self._status
            ]

    def describe(self) -> str:
        """One line for `up` and the worker's log: which graph, learned from what."""
        graph = self.snapshot()
        with self._lock:
            counts: dict[EdgeOrigin, set[Edge]] = {}
            for s in self._status:
                counts.setdefault(s.origin, set()).update(s.edges)
            if self._label_edges:
                counts.setdefault(EdgeOrigin.ALERT_LABELS, set()).update(self._label_edges)
            errors = [f"{s.name} unavailable ({s.reason})" for s in self._status if s.reason]
            overruled = len(self._overruled)
        declared = self._plan.declared_origin
        sources = self._sources()
        found = [(o, len(counts[o])) for o in EdgeOrigin if counts.get(o)]
        learned = ", ".join(
            (f"{n} edge{'s' if n != 1 else ''} from " if i == 0 else f"{n} from ") + origin.value
            for i, (origin, n) in enumerate(found)
        )
        if learned:
            line = f"learned: {learned}; {len(graph.services)} services"
            if declared:
                winner = "catalog" if declared.startswith("catalog") else "declared topology"
                line = f"{declared}, merged with {line} (the {winner} wins on conflicts"
                line += f": {overruled} learned edges overruled)" if overruled else ")"
        elif declared:
            line = f"{declared}: {len(graph.services)} services"
            if sources:
                line += f"; also learning from {sources}, nothing learned yet"
        elif sources:
            line = (
                "empty until learned: no INCIDENTFLOW_CATALOG_PATH; learning from "
                f"{sources}; nothing learned yet"
            )
        else:
            line = "empty: no INCIDENTFLOW_CATALOG_PATH and learning is off"
        if errors:
            line += "; " + "; ".join(errors)
        return line

    def _sources(self) -> str:
        """What this book learns from, in words."""
        parts = [f"{x.origin.value} ({x.name})" for x in self._plan.learners]
        if self._plan.learners:
            parts[-1] += f" every {int(self._plan.refresh.total_seconds())} s"
        if self._plan.labels is not None:
            parts.append(
                f"alert labels ({', '.join(self._plan.labels.callee + self._plan.labels.caller)})"
            )
        return ", ".join(parts)
