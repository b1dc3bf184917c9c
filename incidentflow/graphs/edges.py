"""Learned edges and how they merge with a declared graph (a catalog or a bundle's topology).

An edge `caller -> callee` means the caller sends requests to the callee, the same direction
as `Service.depends_on`. The declared graph wins on conflicts: a learned edge that reverses a
declared one is dropped (the catalog says who calls whom), and a declared service keeps its
owner, tier and runbook; a learned edge the catalog does not mention is added, since traffic
shows a new dependency before anyone edits the YAML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from incidentflow.models import Service, ServiceGraph


class EdgeOrigin(StrEnum):
    """What an edge was learned from, in the words `up` uses."""

    PROMETHEUS = "prometheus service-graph metrics"
    SPANS = "spans"
    ALERT_LABELS = "alert labels"


Edge = tuple[str, str]


class EdgeLearner(Protocol):
    """Learns call edges from one source; may do I/O, so only the graph book calls it."""

    @property
    def name(self) -> str:
        """Short name for status lines, e.g. `prometheus http://prom:9090`."""
        ...

    @property
    def origin(self) -> EdgeOrigin:
        """The kind of input its edges come from."""
        ...

    def learn(self, *, known: Sequence[str], now: datetime) -> set[Edge]:
        """Every edge the source shows now; raises EvidenceUnavailable when it cannot say.

        `known` are the services known so far (a trace store is asked about those).
        """
        ...


def clean(edges: Iterable[Edge], ignore: Iterable[str] = ()) -> set[Edge]:
    """Edges without self-loops, blanks, or placeholder nodes such as Istio's `unknown`."""
    skip = set(ignore)
    return {(a, b) for a, b in edges if a and b and a != b and a not in skip and b not in skip}


@dataclass(frozen=True)
class Merged:
    """The merged graph and what the declared graph overruled."""

    graph: ServiceGraph
    added: int
    overruled: tuple[Edge, ...]


def merge(declared: ServiceGraph, learned: Iterable[Edge]) -> Merged:
    """`declared` plus the learned edges it does not contradict (see the module docstring)."""
    declared_edges = {(s.name, d) for s in declared.services for d in s.depends_on}
    deps: dict[str, list[str]] = {s.name: list(s.depends_on) for s in declared.services}
    added = 0
    overruled: list[Edge] = []
    for caller, callee in sorted(set(learned)):
        if (caller, callee) in declared_edges:
            continue
        if (callee, caller) in declared_edges:
            overruled.append((caller, callee))
            continue
        deps.setdefault(caller, [])
        deps.setdefault(callee, [])
        deps[caller].append(callee)
        added += 1
    if not added:
        return Merged(graph=declared, added=0, overruled=tuple(overruled))
    services = [s.model_copy(update={"depends_on": deps[s.name]}) for s in declared.services]
    names = {s.name for s in declared.services}
    services += [Service(name=n, depends_on=deps[n]) for n in sorted(deps) if n not in names]
    return Merged(graph=ServiceGraph(services=services), added=added, overruled=tuple(overruled))
