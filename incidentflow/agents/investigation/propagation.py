"""Propagate anomaly over the dependency graph: a personalized PageRank toward the cause.

Follows MicroRCA (Wu, Tordsson, Elmroth, Kao, "MicroRCA: Root Cause Localization of
Performance Issues in Microservices", NOMS 2020) and MonitorRank (Kim, Sumbaly, Shah,
SIGMETRICS 2013). A walker starts at a service in proportion to its own anomaly (the
personalization), and at each step either jumps back to such a start (probability 1 - d)
or moves:

* to a service it calls, in proportion to that callee's anomaly: a caller that is slow only
  because its callee is hands its mass down, so the victim loses and a silent dependency of
  several anomalous callers gathers mass from each of them;
* back to a caller, with the small weight `BACKWARD` times the caller's anomaly
  (MonitorRank's backward edge), so a walk never gets stuck in a quiet leaf;
* or stays, with weight max(0, own anomaly - the most anomalous callee's): MonitorRank's
  self edge, so a service more anomalous than everything it calls keeps its mass.

The stationary distribution ranks the candidates. Knobs: d = `DAMPING` (MicroRCA's 0.55;
the walk stays near the anomalies and cannot drift far along a long chain) and `BACKWARD`.
"""

from __future__ import annotations

from collections.abc import Mapping

# Probability of following an edge rather than restarting (MicroRCA's alpha).
DAMPING = 0.55
# Weight of the way back up to a caller, relative to going down (MonitorRank's rho is 0.1-0.5).
BACKWARD = 0.1
ITERATIONS = 100
TOLERANCE = 1e-9


def rank(
    anomaly: Mapping[str, float],
    calls: Mapping[str, list[str]],
    victims: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """Stationary mass of each service in `anomaly` (sums to 1); `calls` = caller -> callees.

    `victims` are services the evidence already shows failing because of a dependency
    (their errors blame it, or its traces put the errors deeper): a walk neither starts nor
    stays there, so their anomaly flows to what they call.
    """
    nodes = sorted(anomaly)
    if not nodes:
        return {}
    starts = {n: 0.0 if n in victims else anomaly[n] for n in nodes}
    total = sum(starts.values())
    if total <= 0:
        return {n: 1.0 / len(nodes) for n in nodes}
    start = {n: starts[n] / total for n in nodes}
    callers: dict[str, list[str]] = {n: [] for n in nodes}
    for caller, callees in calls.items():
        for callee in callees:
            if caller in anomaly and callee in anomaly and callee != caller:
                callers[callee].append(caller)
    moves: dict[str, list[tuple[str, float]]] = {}
    for n in nodes:
        down = [(c, anomaly[c]) for c in calls.get(n, []) if c in anomaly and c != n]
        up = [(c, BACKWARD * anomaly[c]) for c in callers[n]]
        stay = max(0.0, anomaly[n] - max((w for _, w in down), default=0.0))
        if n in victims and down:
            stay = 0.0
        if n in victims and down:
            stay = 0.0
        out = [(c, w) for c, w in (*down, *up, (n, stay)) if w > 0]
        norm = sum(w for _, w in out)
        moves[n] = [(c, w / norm) for c, w in out] if norm > 0 else [(n, 1.0)]
    mass = dict(start)
    for _ in range(ITERATIONS):
        nxt = {n: (1 - DAMPING) * start[n] for n in nodes}
        for n in nodes:
            for to, p in moves[n]:
                nxt[to] += DAMPING * mass[n] * p
        delta = sum(abs(nxt[n] - mass[n]) for n in nodes)
        mass = nxt
        if delta < TOLERANCE:
            break
    return mass
