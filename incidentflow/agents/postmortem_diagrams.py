"""Mermaid pictures for the post-mortem: the blast radius graph and the incident timeline.

Pure and deterministic. Alert and service text is untrusted: it is quoted and stripped of the
characters Mermaid treats as syntax, so it cannot break out of a label.
"""

from __future__ import annotations

import re
from datetime import datetime

from incidentflow.agents.common import utc
from incidentflow.models import IncidentRecord

UNSAFE = re.compile(r'[:;#"`<>{}\[\]|\n]')
LABEL_MAX = 70


def _label(text: str) -> str:
    clean = UNSAFE.sub(" ", text).strip()
    return clean[: LABEL_MAX - 1] + "…" if len(clean) > LABEL_MAX else clean


def blast_radius(record: IncidentRecord) -> str:
    """A flowchart: origin service, downstream services, the dependency edges that carried it."""
    inc = record.incident
    services = list(
        dict.fromkeys(
            [
                *([inc.origin_service] if inc.origin_service else []),
                *inc.services,
                *(d.service for d in inc.downstream),
            ]
        )
    )
    edges: list[tuple[str, str]] = []
    for down in inc.downstream:
        for edge in down.path:
            for name in (edge.caller, edge.callee):
                if name not in services:
                    services.append(name)
            if (edge.caller, edge.callee) not in edges:
                edges.append((edge.caller, edge.callee))
    ids = {name: f"s{n}" for n, name in enumerate(services)}
    alerts_by_service: dict[str, int] = {}
    for down in inc.downstream:
        alerts_by_service[down.service] = alerts_by_service.get(down.service, 0) + 1
    lines = ["```mermaid", "flowchart LR"]
    for name in services:
        role = "origin" if name == inc.origin_service else "affected"
        count = alerts_by_service.get(name)
        extra = f" · {count} symptom alert(s)" if count else ""
        lines.append(f'  {ids[name]}["{_label(name)} ({role}{extra})"]:::{role}')
    for caller, callee in edges:
        lines.append(f"  {ids[caller]} -->|calls| {ids[callee]}")
    lines.append("  classDef origin fill:#f8d7da,stroke:#b02a37,stroke-width:2px")
    lines.append("  classDef affected fill:#fff3cd,stroke:#997404")
    lines.append("```")
    return "\n".join(lines)


def timeline_chart(record: IncidentRecord, rows: list[tuple[datetime, str, str, str]]) -> str:
    """A Mermaid timeline: events grouped by minute (UTC)."""
    lines = ["```mermaid", "timeline", f"  title {_label(record.incident.id)} (UTC)"]
    minute = ""
    for at, kind, actor, text in rows:
        stamp = utc(at).strftime("%H.%M")
        entry = _label(f"{kind} · {actor} · {text}")
        if stamp != minute:
            lines.append(f"  {stamp} : {entry}")
            minute = stamp
        else:
            lines.append(f"        : {entry}")
    lines.append("```")
    return "\n".join(lines)
