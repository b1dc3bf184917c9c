"""Graph walks the rules engines share, on top of `ServiceGraph`."""

from __future__ import annotations

from incidentflow.models import ServiceGraph


def hop_distance(graph: ServiceGraph, a: str, b: str, limit: int) -> int | None:
    """Fewest edges between `a` and `b` ignoring direction, or None beyond `limit`."""
    if a == b:
        return 0
    if graph.get(a) is None or graph.get(b) is None:
        return None
    frontier, seen = {a}, {a}
    for hops in range(1, limit + 1):
        nxt: set[str] = set()
        for node in frontier:
            nxt.update(graph.dependencies(node))
            nxt.update(graph.dependents(node))
        if b in nxt:
            return hops
        frontier = nxt - seen
        seen |= nxt
    return None


def dependencies_within(graph: ServiceGraph, name: str, hops: int) -> dict[str, int]:
    """Services `name` calls, directly or through others, up to `hops` edges: name -> depth."""
    depth = {name: 0}
    frontier = [name]
    for level in range(1, hops + 1):
        nxt: list[str] = []
        for node in frontier:
            for dep in graph.dependencies(node):
                if dep not in depth:
                    depth[dep] = level
                    nxt.append(dep)
        frontier = nxt
    return depth


def hops(n: int) -> str:
    """`1 hop`, `2 hops`."""
    return f"{n} hop" if n == 1 else f"{n} hops"
