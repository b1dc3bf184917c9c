"""Inline SVG pictures for the incident page: metric sparklines and the blast-radius graph.

Pure functions of the record; every label goes through `text()` (escaped, controls visible),
so a service or series name from an alert cannot break out of the picture.
"""

from __future__ import annotations

from collections import deque

from incidentflow.models import Evidence, Incident
from incidentflow.web.text import text

SPARK_W = 180
SPARK_H = 36
NODE_W = 150
NODE_H = 30
COL_GAP = 60
ROW_GAP = 14
# More nodes than this are listed, not drawn: a picture of 300 boxes explains nothing.
MAX_NODES = 40


def evidence_points(evidence: Evidence) -> tuple[list[float], int | None]:
    """The values a metric evidence carries, and where the incident window starts in them."""
    cut = evidence.points_cut
    return evidence.points, cut if cut is not None and cut < len(evidence.points) else None


def sparkline(values: list[float], *, cut: int | None, label: str) -> str:
    """A small line chart; the part after `cut` (the incident window) is shaded."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_W / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{SPARK_H - 2 - (v - low) / span * (SPARK_H - 4):.1f}"
        for i, v in enumerate(values)
    )
    shade = ""
    if cut is not None:
        x = cut * step
        shade = (
            f'<rect class="window" x="{x:.1f}" y="0" width="{SPARK_W - x:.1f}" height="{SPARK_H}"/>'
        )
    return (
        f'<svg class="spark" role="img" viewBox="0 0 {SPARK_W} {SPARK_H}" width="{SPARK_W}" '
        f'height="{SPARK_H}"><title>{text(label)}: {low:.4g} to {high:.4g}</title>{shade}'
        f'<polyline fill="none" points="{points}"/></svg>'
    )


def _levels(incident: Incident) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Each service's hops from the origin (caller -> callee edges walked backwards)."""
    edges: list[tuple[str, str]] = []
    for down in incident.downstream:
        for edge in down.path:
            pair = (edge.caller, edge.callee)
            if pair not in edges:
                edges.append(pair)
    names = list(
        dict.fromkeys(
            [
                *([incident.origin_service] if incident.origin_service else []),
                *incident.services,
                *(d.service for d in incident.downstream),
                *(n for pair in edges for n in pair),
            ]
        )
    )
    callers: dict[str, list[str]] = {}
    for caller, callee in edges:
        callers.setdefault(callee, []).append(caller)
    level: dict[str, int] = {}
    if incident.origin_service:
        level[incident.origin_service] = 0
        queue = deque([incident.origin_service])
        while queue:
            node = queue.popleft()
            for up in callers.get(node, []):
                if up not in level:
                    level[up] = level[node] + 1
                    queue.append(up)
    deepest = max(level.values(), default=-1)
    for name in names:
        # Not connected to the origin by any explaining edge: a column of its own.
        level.setdefault(name, deepest + 1)
    return level, edges


def blast_radius(incident: Incident) -> str:
    """The origin at the left, callers to the right by hops; edges say who depends on whom."""
    level, edges = _levels(incident)
    if not level:
        return ""
    if len(level) > MAX_NODES:
        return ""
    columns: dict[int, list[str]] = {}
    for name, hops in level.items():
        columns.setdefault(hops, []).append(name)
    at: dict[str, tuple[float, float]] = {}
    for hops, names in sorted(columns.items()):
        for row, name in enumerate(sorted(names)):
            at[name] = (hops * (NODE_W + COL_GAP) + 2, row * (NODE_H + ROW_GAP) + 2)
    width = max(x for x, _ in at.values()) + NODE_W + 4
    height = max(y for _, y in at.values()) + NODE_H + 4
    alerting = {d.service for d in incident.downstream}
    parts = [
        f'<svg class="graph" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}"><title>blast radius of '
        f"{text(incident.origin_service or 'unknown origin')}</title>"
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>'
    ]
    for caller, callee in edges:
        (x1, y1), (x2, y2) = at[caller], at[callee]
        # Arrows point at the dependency: caller -> callee, i.e. towards the origin.
        parts.append(
            f'<line class="edge" x1="{x1:.0f}" y1="{y1 + NODE_H / 2:.0f}" '
            f'x2="{x2 + NODE_W:.0f}" y2="{y2 + NODE_H / 2:.0f}" marker-end="url(#arrow)"/>'
        )
    for name, (x, y) in at.items():
        kind = (
            "origin"
            if name == incident.origin_service
            else "downstream"
            if name in alerting
            else "service"
        )
        label = name if len(name) <= 20 else name[:19] + "…"
        parts.append(
            f'<g class="node {kind}"><rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="5"/><text x="{x + 8:.0f}" y="{y + 19:.0f}">'
            f"{text(label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
