"""Graph walks the rules engines share, on top of `ServiceGraph`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from incidentflow.models import DependencyEdge, Detection, DownstreamAlert, ServiceGraph


def hop_distance(graph: ServiceGraph, a: str, b: str, limit: int) -> int | None:
    """Fewest edges between `a` and `b` ignoring direction, or None beyond `limit`."""
    if a == b:
        return 0
    if graph.get(a) is None or graph.get(b) is None:
        return None
    return hops_between(a, b, limit, lambda n: [*graph.dependencies(n), *graph.dependents(n)])


def hops_between(
    a: str, b: str, limit: int, neighbours: Callable[[str], Iterable[str]]
) -> int | None:
    """Breadth-first: fewest steps from `a` to `b` over `neighbours`, None beyond `limit`."""
    frontier, seen = {a}, {a}
    for hops in range(1, limit + 1):
        nxt: set[str] = set()
        for node in frontier:
            nxt.update(neighbours(node))
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


def downstream_of(
    det: Detection, origin: str | None, graph: ServiceGraph
) -> DownstreamAlert | None:
    """The dependency path that explains `det` as a symptom of `origin`, if there is one."""
    return symptom_of(det.alert.fingerprint, det.alert.name, det.service, origin, graph)


def symptom_of(
    fingerprint: str, name: str, service: str | None, origin: str | None, graph: ServiceGraph
) -> DownstreamAlert | None:
    """The dependency path that explains an alert on `service` as a symptom of `origin`."""
    if origin is None or service is None or service == origin:
        return None
    hops = graph.path(service, origin)
    if not hops:
        return None
    edges = [DependencyEdge(caller=a, callee=b) for a, b in hops]
    chain = " -> ".join([service, *(e.callee for e in edges)])
    return DownstreamAlert(
        fingerprint=fingerprint,
        service=service,
        path=edges,
        explanation=(
            f"{name or fingerprint} on {service} is a symptom: {chain}, so "
            f"{service} fails when {origin} does"
        ),
    )


def deeper_origin(
    origin: str | None, services: list[str], graph: ServiceGraph
) -> tuple[str, str] | None:
    """The failing service among `services` that `origin` depends on most deeply, if any.

    An incident opened on a symptom (checkout) learns of the real origin (payments) when that
    alert joins later: the origin moves to the most upstream failing dependency.
    """
    if origin is None:
        return None
    best: tuple[int, str] | None = None
    for svc in sorted(set(services) - {origin}):
        path = graph.path(origin, svc)
        if path and (best is None or len(path) > best[0]):
            best = (len(path), svc)
    if best is None:
        return None
    chain = " -> ".join([origin, *(b for _, b in graph.path(origin, best[1]) or [])])
    return best[1], f"{best[1]} is failing and {origin} depends on it ({chain})"
