"""Plain-text views of incidents for a terminal: what a tired person reads at 3 a.m."""

from __future__ import annotations

from datetime import timedelta

from incidentflow.cli.ops import IncidentRow
from incidentflow.llm.accounting import incident_usage
from incidentflow.models import IncidentRecord, Investigation


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
        out.append(f"  {i}. {h.cause}  [{h.fault_type.value}, confidence {h.confidence:.2f}]")
        if h.why:
            out.append(f"     why: {h.why}")
        out.append(f"     evidence: {', '.join(h.evidence_ids) or '-'}")
        if h.contradicting_ids:
            out.append(f"     contradicted by: {', '.join(h.contradicting_ids)}")
        if i > 1:
            continue
        if len(h.path) > 1:
            out.append(f"     path: {' -> '.join(h.path)}")
        charts = [
            evidence[e]
            for e in h.evidence_ids
            if e in evidence
            and evidence[e].kind == "metric"
            and evidence[e].attributes.get("values")
        ]
        for item in sorted(charts, key=lambda e: -e.weight)[:2]:
            try:
                values = [float(v) for v in item.attributes["values"].split(";")]
                cut = int(item.attributes.get("cut_index", "0"))
            except ValueError:
                continue
            name = item.attributes.get("series", item.id)
            out.append(
                f"     {name}: {sparkline(values, cut)} ({min(values):.3g}..{max(values):.3g})"
            )
    return out


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
        out += hypotheses_text(inv)
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
