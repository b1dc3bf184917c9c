"""The service graph with its walks cached, for one correlation call over an alert storm."""

from __future__ import annotations

from collections import defaultdict

from pydantic import PrivateAttr

from incidentflow.agents.topology import hop_distance
from incidentflow.models import Service, ServiceGraph


class MemoGraph(ServiceGraph):
    """The service graph with walks cached for one correlation call (storms repeat them)."""

    _dist: dict[tuple[str, str, int], int | None] = PrivateAttr(default_factory=dict)
    _paths: dict[tuple[str, str], list[tuple[str, str]] | None] = PrivateAttr(default_factory=dict)
    _by_name: dict[str, Service] = PrivateAttr(default_factory=dict)
    _callers: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        self._by_name = {svc.name: svc for svc in self.services}
        callers: dict[str, list[str]] = defaultdict(list)
        for svc in self.services:
            for dep in svc.depends_on:
                callers[dep].append(svc.name)
        self._callers = dict(callers)

    def get(self, name: str) -> Service | None:
        return self._by_name.get(name)

    def dependents(self, name: str) -> list[str]:
        return list(self._callers.get(name, []))

    def distance(self, a: str, b: str, limit: int) -> int | None:
        key = (a, b, limit)
        if key not in self._dist:
            self._dist[key] = hop_distance(self, a, b, limit)
        return self._dist[key]

    def path(self, caller: str, callee: str) -> list[tuple[str, str]] | None:
        key = (caller, callee)
        if key not in self._paths:
            self._paths[key] = super().path(caller, callee)
        return self._paths[key]


def distance(graph: ServiceGraph, a: str, b: str, limit: int) -> int | None:
    if isinstance(graph, MemoGraph):
        return graph.distance(a, b, limit)
    return hop_distance(graph, a, b, limit)
