"""The service graph with its walks cached, for correlation over an alert storm."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import PrivateAttr

from incidentflow.agents.topology import hop_distance, hops_between
from incidentflow.models import Service, ServiceGraph


@dataclass
class _Walks:
    """Plain dicts: pydantic's private-attribute lookup costs more than the walks it caches."""

    by_name: dict[str, Service]
    callers: dict[str, list[str]]
    dist: dict[tuple[str, str, int], int | None] = field(default_factory=dict)
    paths: dict[tuple[str, str], list[tuple[str, str]] | None] = field(default_factory=dict)

    def distance(self, a: str, b: str, limit: int) -> int | None:
        """`hop_distance` over an undirected adjacency built once."""
        key = (a, b, limit)
        if key in self.dist:
            return self.dist[key]
        found: int | None = None
        if a == b:
            found = 0
        elif a in self.by_name and b in self.by_name:
            found = hops_between(a, b, limit, self._neighbours)
        self.dist[key] = found
        return found

    def _neighbours(self, name: str) -> list[str]:
        svc = self.by_name.get(name)
        return [*(svc.depends_on if svc else ()), *self.callers.get(name, ())]


class MemoGraph(ServiceGraph):
    """The service graph with lookups indexed and walks cached (storms repeat them)."""

    _walks: _Walks = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        callers: dict[str, list[str]] = defaultdict(list)
        for svc in self.services:
            for dep in svc.depends_on:
                callers[dep].append(svc.name)
        self._walks = _Walks(
            by_name={svc.name: svc for svc in self.services}, callers=dict(callers)
        )

    def get(self, name: str) -> Service | None:
        return self._walks.by_name.get(name)

    def dependencies(self, name: str) -> list[str]:
        svc = self._walks.by_name.get(name)
        return list(svc.depends_on) if svc else []

    def dependents(self, name: str) -> list[str]:
        return list(self._walks.callers.get(name, []))

    def distance(self, a: str, b: str, limit: int) -> int | None:
        return self._walks.distance(a, b, limit)

    def path(self, caller: str, callee: str) -> list[tuple[str, str]] | None:
        cache = self._walks.paths
        key = (caller, callee)
        if key not in cache:
            cache[key] = super().path(caller, callee)
        return cache[key]


def memo_graph(graph: ServiceGraph) -> MemoGraph:
    """`graph` with cached walks; an already cached graph is returned as it is (its cache kept)."""
    return graph if isinstance(graph, MemoGraph) else MemoGraph(services=graph.services)


def distance(graph: ServiceGraph, a: str, b: str, limit: int) -> int | None:
    if isinstance(graph, MemoGraph):
        return graph.distance(a, b, limit)
    return hop_distance(graph, a, b, limit)
