"""Plain-text views of incidents for a terminal: what a tired person reads at 3 a.m."""

from __future__ import annotations

from datetime import timedelta

from incidentflow.cli.ops import IncidentRow
from incidentflow.llm.accounting import incident_usage
from incidentflow.models import GoneIncident, IncidentRecord, QuarantinedAlerts, StreamStats


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
    lines = [(r.id, r.state, r.severity, r.service, age(r.age), r.title) for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(5)]
    out = []
    for line in [header, *lines]:
        cells = [str(c).ljust(w) for c, w in zip(line[:5], widths, strict=True)]
        out.append("  ".join([*cells, str(line[5])]))
    return "\n".join(out)


def record_text(rec: IncidentRecord) -> str:
    """Every artifact of an incident, readable, in the order the agents produced them."""
    inc = rec.incident
    out = [
        f"{inc.id}  {inc.title}",
        f"state: {rec.state.value}   waiting for: {rec.waiting_for or '-'}",
        f"severity: {inc.severity.value}   origin: {inc.origin_service or '?'}   "
        f"services: {', '.join(inc.services)}   opened: {inc.opened_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"Alerts ({len(inc.alerts)})",
    ]
    for a in inc.alerts:
        out.append(f"  [{a.status.value}] {a.name} ({a.labels.get('service', '?')}): {a.summary}")
    for d in inc.downstream:
        path = " -> ".join([d.path[0].caller, *(e.callee for e in d.path)]) if d.path else "?"
        out.append(f"  downstream: {d.service} via {path}: {d.explanation}")
    for dup in inc.duplicates:
        out.append(f"  duplicate: {dup.fingerprint} of {dup.duplicate_of}: {dup.reason}")
    if rec.investigation:
        inv = rec.investigation
        out += ["", f"Investigation ({inv.engine.value}): {inv.summary}"]
        out += [f"  engine: {inv.engine_reason}"] if inv.engine_reason else []
        for i, h in enumerate(inv.hypotheses, 1):
            out.append(f"  {i}. {h.cause}  [{h.fault_type.value}, confidence {h.confidence:.2f}]")
            out.append(f"     evidence: {', '.join(h.evidence_ids) or '-'}")
            if h.contradicting_ids:
                out.append(f"     contradicted by: {', '.join(h.contradicting_ids)}")
        for r in inv.rejected:
            out.append(f"  rejected: {r.cause} ({r.service}): {r.reason}")
        out.append("  Evidence:")
        for e in inv.evidence:
            out.append(f"    {e.id}: {e.finding}")
            out.append(f"      query: {e.query}" + (f"   link: {e.link}" if e.link else ""))
    if rec.plan:
        plan = rec.plan
        out += ["", f"Remediation plan ({plan.engine.value}): {plan.rationale}"]
        out += [f"  engine: {plan.engine_reason}"] if plan.engine_reason else []
        if plan.action:
            act = plan.action
            out.append(f"  action {act.id}: {act.summary}  [risk {act.risk.value}, {act.executor}]")
            out.append(f"  verify: {act.verify.description} (within {act.verify.window_seconds} s)")
            out.append(f"  undo: {act.undo_summary}")
        for alt in plan.alternatives:
            out.append(f"  alternative: {alt.summary} [risk {alt.risk.value}]")
    if rec.approval:
        ap = rec.approval
        reason = f": {ap.reason}" if ap.reason else ""
        out += ["", f"Decision: {ap.decision.value} by {ap.by} at {ap.at:%H:%M:%S} UTC{reason}"]
    for res in rec.results:
        verb = "would run" if res.dry_run else "ran"
        label = "undo" if res.undo else "action"
        out.append(f"{label} {res.status.value} via {res.executor}; {verb}:")
        out += [f"    {op}" for op in res.would_run]
    if rec.verification:
        out.append(f"Verification: {rec.verification.status.value}: {rec.verification.detail}")
    out += ["", "Timeline"]
    for ev in rec.timeline:
        out.append(f"  {ev.at:%H:%M:%S}  {ev.kind.value:<13} {ev.actor:<16} {ev.summary}")
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
        f"stream alerts-{partition}: {stats.alerts_received} received, {stats.alerts_processed} "
        f"processed, {stats.incidents_opened} incident(s) opened, {stats.alerts_joined} joined, "
        f"{stats.alerts_dropped} dropped, {stats.alerts_quarantined} quarantined, "
        f"{stats.alerts_after_end} after an incident's end",
    ]
    if not quarantined:
        out.append("quarantine: empty (every alert was processed)")
    for q in quarantined:
        out.append(
            f"quarantined {q.alert_count} alert(s) at {q.at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{q.stage} failed: {q.error}"
        )
        out.extend(
            f"  {a.name} fingerprint={a.fingerprint} starts_at={a.starts_at.isoformat()}"
            for a in q.alerts
        )
    for g in gone:
        out.append(
            f"incident {g.incident_id} had ended at {g.at:%Y-%m-%d %H:%M:%S} UTC; "
            f"{g.alerts_after_end} alert(s) for it were correlated again ({g.error})"
        )
    return "\n".join(out)
