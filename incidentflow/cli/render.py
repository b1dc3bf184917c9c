"""Plain-text views of incidents for a terminal: what a tired person reads at 3 a.m.

Every value that came from outside (alerts, logs, evidence, models, people) passes through
`one_line` (here `safe`): its control characters and newlines are shown as escapes, so it can
neither drive the terminal nor forge a line of the view.
"""

from __future__ import annotations

from datetime import timedelta

from incidentflow.client import IncidentRow
from incidentflow.identity.audit import attempt_line
from incidentflow.llm.accounting import incident_usage
from incidentflow.models import (
    GoneIncident,
    IncidentRecord,
    Investigation,
    QuarantinedAlerts,
    RemediationPlan,
    StreamStats,
)
from incidentflow.visible import one_line as safe


def age(delta: timedelta) -> str:
    """A short human age: 45s, 12m, 3h, 2d."""
    secs = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{max(secs, 0)}s"


def incidents_table(rows: list[IncidentRow]) -> str:
    """The `incidents` table, or a hint when there are none."""
    if not rows:
        return "no incidents yet: send alerts with `incidentflow demo` or `incidentflow alert send`"
    header = ("ID", "STATE", "SEVERITY", "SERVICE", "AGE", "TITLE")
    lines = [
        (safe(r.id), safe(r.state), safe(r.severity), safe(r.service), age(r.age), safe(r.title))
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(5)]
    out = []
    for line in [header, *lines]:
        cells = [str(c).ljust(w) for c, w in zip(line[:5], widths, strict=True)]
        out.append("  ".join([*cells, str(line[5])]))
    return "\n".join(out)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], cut: int | None = None) -> str:
    """Values as block characters, min to max; a `|` before index `cut` (the onset)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    marks = [SPARK[min(len(SPARK) - 1, int((v - lo) / span * len(SPARK)))] for v in values]
    if cut is not None and 0 < cut < len(marks):
        marks.insert(cut, "|")
    return "".join(marks)


def hypotheses_text(inv: Investigation) -> list[str]:
    """The ranked hypotheses, each with why it ranks there; for the top one, the path from
    the alerts down to it and a sparkline of its strongest series."""
    out: list[str] = []
    evidence = {e.id: e for e in inv.evidence}
    for i, h in enumerate(inv.hypotheses, 1):
        out.append(f"  {i}. {safe(h.cause)}  [{h.fault_type.value}, confidence {h.confidence:.2f}]")
        if h.why:
            out.append(f"     why: {safe(h.why)}")
        out.append(f"     evidence: {safe(', '.join(h.evidence_ids)) or '-'}")
        if h.contradicting_ids:
            out.append(f"     contradicted by: {safe(', '.join(h.contradicting_ids))}")
        if i > 1:
            continue
        if len(h.path) > 1:
            out.append(f"     path: {safe(' -> '.join(h.path))}")
        charts = [
            evidence[e]
            for e in h.evidence_ids
            if e in evidence and evidence[e].kind == "metric" and len(evidence[e].points) > 1
        ]
        for item in sorted(charts, key=lambda e: -e.weight)[:2]:
            values = item.points
            name = safe(item.attributes.get("series", item.id))
            out.append(
                f"     {name}: {sparkline(values, item.points_cut)} "
                f"({min(values):.3g}..{max(values):.3g})"
            )
    return out


def record_text(rec: IncidentRecord) -> str:
    """Every artifact of an incident, readable, in the order the agents produced them."""
    inc = rec.incident
    out = [
        f"{inc.id}  {safe(inc.title)}",
        f"state: {rec.state.value}   waiting for: {safe(rec.waiting_for or '-')}",
        f"severity: {inc.severity.value}   origin: {safe(inc.origin_service or '?')}   "
        f"services: {safe(', '.join(inc.services))}   "
        f"opened: {inc.opened_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"Alerts ({len(inc.alerts)})",
    ]
    for a in inc.alerts:
        service = a.labels.get("service", "?")
        out.append(f"  [{a.status.value}] {safe(a.name)} ({safe(service)}): {safe(a.summary)}")
    for d in inc.downstream:
        path = " -> ".join([d.path[0].caller, *(e.callee for e in d.path)]) if d.path else "?"
        out.append(f"  downstream: {safe(d.service)} via {safe(path)}: {safe(d.explanation)}")
    for dup in inc.duplicates:
        out.append(
            f"  duplicate: {safe(dup.fingerprint)} of {safe(dup.duplicate_of)}: {safe(dup.reason)}"
        )
    if rec.investigation:
        inv = rec.investigation
        out += ["", f"Investigation ({inv.engine.value}, {inv.status.value}): {safe(inv.summary)}"]
        out += [f"  engine: {safe(inv.engine_reason)}"] if inv.engine_reason else []
        if not inv.sources:
            out.append("  sources: none configured (ranked from the alerts and the graph only)")
        for src in inv.sources:
            detail = f": {safe(src.reason)}" if src.reason and src.state.value != "ok" else ""
            count = f" ({src.items} records)" if src.items else ""
            out.append(f"  source {safe(src.name)}: {src.state.value}{count}{detail}")
        out += hypotheses_text(inv)
        for r in inv.rejected:
            out.append(f"  rejected: {safe(r.cause)} ({safe(r.service)}): {safe(r.reason)}")
        out.append("  Evidence:")
        for e in inv.evidence:
            out.append(f"    {safe(e.id)}: {safe(e.finding)}")
            out.append(
                f"      query: {safe(e.query)}" + (f"   link: {safe(e.link)}" if e.link else "")
            )
    if rec.plan:
        plan = rec.plan
        out += ["", f"Remediation plan ({plan.engine.value}): {safe(plan.rationale)}"]
        out += [f"  engine: {safe(plan.engine_reason)}"] if plan.engine_reason else []
        if plan.id:
            # What a decision must name (issue 17); earlier versions are in the timeline.
            version = f"  plan {safe(plan.id)} (digest {safe((plan.digest or 'none')[:19])})"
            if len(rec.plans) > 1:
                version += f", version {len(rec.plans)}: {safe(plan.reason or 're-planned')}"
            out.append(version)
        if plan.action:
            act = plan.action
            out.append(
                f"  action {safe(act.id)}: {safe(act.summary)}  "
                f"[risk {act.risk.value}, {safe(act.executor)}]"
            )
            out.append(
                f"  verify: {safe(act.verify.description)} (within {act.verify.window_seconds} s)"
            )
            out.append(f"  undo: {safe(act.undo_summary)}")
        out += [f"  {line}" for line in alternative_lines(plan)]
        out += [f"  check: {safe(c)}" for c in plan.checks]
        out += ["  escalated: no automatic action; a person decides"] if plan.escalate else []
    if rec.approval:
        ap = rec.approval
        reason = f": {safe(ap.reason)}" if ap.reason else ""
        out += [
            "",
            f"Decision: {ap.decision.value} by {safe(ap.by)} at {ap.at:%H:%M:%S} UTC{reason}",
        ]
    if rec.decisions:
        out += ["", f"Decision attempts ({len(rec.decisions)}, refused ones included)"]
        out += [f"  {safe(attempt_line(d))}" for d in rec.decisions]
    for res in rec.results:
        verb = "would run" if res.dry_run else "ran"
        label = "undo" if res.undo else "action"
        out.append(f"{label} {res.status.value} via {safe(res.executor)}; {verb}:")
        out += [f"    {safe(op)}" for op in res.would_run]
    if rec.verification:
        out.append(
            f"Verification: {rec.verification.status.value}: {safe(rec.verification.detail)}"
        )
    out += ["", "Timeline"]
    for ev in rec.timeline:
        out.append(
            f"  {ev.at:%H:%M:%S}  {ev.kind.value:<13} {safe(ev.actor):<16} {safe(ev.summary)}"
        )
    if rec.postmortem:
        out += ["", f"Post-mortem drafted: `incidentflow postmortem {inc.id}`"]
    usage = incident_usage(rec)
    if usage:
        out += ["", "Model usage (docs/llm.md)"]
        out += [
            f"  {agent:<13} {u.calls} call(s), {u.prompt_tokens}+{u.completion_tokens} tokens, "
            f"{u.latency_ms} ms, {u.tool_calls} tool call(s)"
            for agent, u in usage.items()
        ]
    return "\n".join(out)


def stream_text(
    partition: str,
    stats: StreamStats,
    quarantined: list[QuarantinedAlerts],
    gone: list[GoneIncident],
) -> str:
    """A stream's counters, then each quarantined round and each incident found ended."""
    out = [
        f"stream alerts-{safe(partition)}: {stats.alerts_received} received, "
        f"{stats.alerts_processed} processed, {stats.incidents_opened} incident(s) opened, "
        f"{stats.alerts_joined} joined, "
        f"{stats.alerts_dropped} dropped, {stats.alerts_quarantined} quarantined, "
        f"{stats.alerts_after_end} after an incident's end",
    ]
    if not quarantined:
        out.append("quarantine: empty (every alert was processed)")
    for q in quarantined:
        out.append(
            f"quarantined {q.alert_count} alert(s) at {q.at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{safe(q.stage)} failed: {safe(q.error)}"
        )
        out.extend(
            f"  {safe(a.name)} fingerprint={safe(a.fingerprint)} "
            f"starts_at={a.starts_at.isoformat()}"
            for a in q.alerts
        )
    for g in gone:
        out.append(
            f"incident {g.incident_id} had ended at {g.at:%Y-%m-%d %H:%M:%S} UTC; "
            f"{g.alerts_after_end} alert(s) for it were correlated again ({safe(g.error)})"
        )
    return "\n".join(out)


def alternative_lines(plan: RemediationPlan) -> list[str]:
    """The plan's alternatives, numbered as `incidentflow pick` takes them, with risk and why."""
    reasons = {r.action_id: r.reason for r in plan.alternative_reasons}
    return [
        f"alternative {n}: {safe(alt.summary)} [risk {alt.risk.value}, {safe(alt.executor)}]"
        + (f" because {safe(reasons[alt.id])}" if alt.id in reasons else "")
        for n, alt in enumerate(plan.alternatives, start=1)
    ]
