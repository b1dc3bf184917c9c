"""The service dependency graph that correlation and investigation reason over."""

from __future__ import annotations

from collections import deque

from pydantic import Field

from incidentflow.models.base import Artifact


class Service(Artifact):
    name: str
    owner: str = "unowned"
    tier: str = "backend"
    depends_on: list[str] = Field(default_factory=list)
    runbook: str | None = None


class ServiceGraph(Artifact):
    """Services and their dependencies; `a.depends_on = [b]` means a calls b."""

    services: list[Service]

    def get(self, name: str) -> Service | None:
        """The service called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)

    def dependencies(self, name: str) -> list[str]:
        """Direct dependencies (callees) of `name`."""
        svc = self.get(name)
        return list(svc.depends_on) if svc else []

    def dependents(self, name: str) -> list[str]:
        """Services that call `name` directly."""
        return [s.name for s in self.services if name in s.depends_on]

    def path(self, caller: str, callee: str) -> list[tuple[str, str]] | None:
        """Shortest dependency path from caller down to callee as edges, or None."""
        if caller == callee:
            return []
        prev: dict[str, str] = {}
        queue: deque[str] = deque([caller])
        seen = {caller}
        while queue:
            node = queue.popleft()
            for nxt in self.dependencies(node):
                if nxt in seen:
                    continue
                seen.add(nxt)
                prev[nxt] = node
                if nxt == callee:
                    edges: list[tuple[str, str]] = []
                    cur = callee
                    while cur != caller:
                        edges.append((prev[cur], cur))
                        cur = prev[cur]
                    return list(reversed(edges))
                queue.append(nxt)
        return None

    def within_hops(self, name: str, hops: int) -> set[str]:
        """Services reachable from `name` in at most `hops` edges, either direction."""
        frontier = {name}
        seen = {name}
        for _ in range(hops):
            nxt: set[str] = set()
            for node in frontier:
                nxt.update(self.dependencies(node))
                nxt.update(self.dependents(node))
            frontier = nxt - seen
            seen |= nxt
        return seen
