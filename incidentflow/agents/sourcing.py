"""What stands behind an investigation: its sources' reports, its status, honest confidence.

Pure: applied to whichever engine's `Investigation` once the sources have answered. With no
source configured, or none that answered, the ranking rests on the alerts and the service
graph alone; confidence is capped to say so, and the summary says it first (issue 13).
"""

from __future__ import annotations

from incidentflow.models import Investigation, InvestigationStatus, SourceReport, SourceState

# Alerts and the graph can say where a cascade starts, never why: no more than the topology
# fallback's own confidence.
UNSOURCED_MAX_CONFIDENCE = 0.2


def account(inv: Investigation, reports: list[SourceReport]) -> Investigation:
    """`inv` with its sources' reports, its status, and confidence capped when unsourced."""
    down = [r for r in reports if r.state is SourceState.ERROR]
    if not reports:
        status = InvestigationStatus.NO_SOURCES
        lead = (
            "No evidence source is configured (no_sources): ranked from the alerts and the "
            "service graph only; a person must decide."
        )
    elif down:
        status = InvestigationStatus.PARTIAL
        names = ", ".join(f"{r.name} ({r.reason})" for r in down)
        lead = f"Unavailable, left out: {names}."
        if len(down) == len(reports):
            lead += " No source answered: ranked from the alerts and the service graph only."
    else:
        return inv.model_copy(update={"status": InvestigationStatus.COMPLETE, "sources": reports})
    unsourced = len(down) == len(reports)
    hypotheses = [
        h.model_copy(update={"confidence": min(h.confidence, UNSOURCED_MAX_CONFIDENCE)})
        if unsourced
        else h
        for h in inv.hypotheses
    ]
    return inv.model_copy(
        update={
            "status": status,
            "sources": reports,
            "hypotheses": hypotheses,
            "summary": f"{lead} {inv.summary}",
        }
    )


def unsourced(inv: Investigation) -> bool:
    """True when no evidence source answered: nothing but alerts and the graph stand behind it."""
    if inv.status is InvestigationStatus.NO_SOURCES:
        return True
    return bool(inv.sources) and all(r.state is SourceState.ERROR for r in inv.sources)
