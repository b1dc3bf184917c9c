"""Agent 5, post-mortem (rules engine): a Markdown draft from the incident's record.

Every fact comes from the record (alerts, timeline, investigation, plan, decision, results),
so the draft is reproducible; people edit it afterwards. Pure and deterministic.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from incidentflow.agents.common import ago, utc
from incidentflow.agents.postmortem_diagrams import blast_radius
from incidentflow.agents.postmortem_timeline import cell, timeline_section
from incidentflow.identity.audit import attempt_line
from incidentflow.models import (
    ActionItem,
    FaultType,
    IncidentRecord,
    PostMortem,
    ServiceGraph,
    VerificationStatus,
)
from incidentflow.visible import visible

DRAFT_MARKER = "(draft — edit me)"


def draft(record: IncidentRecord, graph: ServiceGraph) -> PostMortem:
    """The draft, in the sections of the SRE book's post-mortem template, plus its data."""
    incident = record.incident
    title = f"Post-mortem: {incident.title}"
    items = _items(record, graph)
    sections = [
        f"# {title} {DRAFT_MARKER}",
        _header(record),
        _summary(record),
        _impact(record, graph),
        _root_cause(record),
        _contributing(record),
        _resolution(record),
        _detection(record),
        _action_items(items),
        _lessons(record),
        timeline_section(record),
        _supporting(record),
    ]
    top = record.investigation.top if record.investigation else None
    start, end = impact_window(record)
    return PostMortem(
        incident_id=incident.id,
        title=title,
        # Alert, log and model text is untrusted: no control character reaches the file.
        markdown=visible("\n\n".join(sections) + "\n"),
        impact_start=start,
        impact_end=end,
        root_cause=top.cause if top else "",
        action_items=[ActionItem(text=text, owner=owner) for text, owner in items],
        timeline=record.timeline,
    )


def impact_window(record: IncidentRecord) -> tuple[datetime, datetime | None]:
    """First alert to recovery: all alerts resolved, else a passed verification, else open."""
    inc = record.incident
    start = min((utc(a.starts_at) for a in inc.alerts), default=utc(inc.opened_at))
    if inc.resolved_at is not None:
        return start, utc(inc.resolved_at)
    passed = [v for v in record.verifications if v.status is VerificationStatus.PASSED]
    if passed:
        return start, utc(passed[-1].checked_at)
    return start, None


def _when(at: datetime) -> str:
    return utc(at).strftime("%Y-%m-%d %H:%M:%S")


def _header(record: IncidentRecord) -> str:
    inc = record.incident
    owner = record.owner or "unassigned"
    return (
        f"**Date:** {_when(inc.opened_at)} UTC · **Authors:** IncidentFlow post-mortem agent "
        f"(draft), {owner} · **Status:** {record.state.value}, draft for review\n\n"
        f"| Incident | Severity | Environment | State | Opened (UTC) |\n"
        f"|---|---|---|---|---|\n"
        f"| {inc.id} | {inc.severity.value} | {inc.environment} | {record.state.value} | "
        f"{_when(inc.opened_at)} |"
    )


def _summary(record: IncidentRecord) -> str:
    inc = record.incident
    top = record.investigation.top if record.investigation else None
    text = f"## Summary\n\n{inc.title}: {len(inc.alerts)} alert(s) on {', '.join(inc.services)}"
    text += f", starting {_when(inc.opened_at)} UTC."
    if top:
        text += f" Most likely cause ({top.confidence:.2f}): {top.cause}."
    if record.plan and record.plan.action:
        text += f" Planned remediation: {record.plan.action.summary}."
    if record.verification:
        text += f" Verification {record.verification.status.value}: {record.verification.detail}"
    return text


def _impact(record: IncidentRecord, graph: ServiceGraph) -> str:
    inc = record.incident
    lines = ["## Impact", "", "| Service | Owner | Tier | Alerts |", "|---|---|---|---|"]
    by_service: dict[str | None, set[str]] = {}
    where = _services_by_fingerprint(record)
    for alert in inc.alerts:
        by_service.setdefault(where.get(alert.fingerprint, inc.origin_service), set()).add(
            alert.name
        )
    for svc in inc.services:
        service = graph.get(svc)
        names = sorted(by_service.get(svc, ()))
        lines.append(
            f"| {svc} | {service.owner if service else 'unknown'} | "
            f"{service.tier if service else 'unknown'} | {cell(', '.join(names)) or '-'} |"
        )
    start, end = impact_window(record)
    lines.append("")
    if end is None:
        lines.append(
            f"Impact window: from {_when(start)} UTC, not recovered when drafted "
            f"({ago(_last_time(record) - start)} so far)."
        )
    else:
        lines.append(f"Impact window: {_when(start)} to {_when(end)} UTC ({ago(end - start)}).")
    edge = [s for s in inc.services if (found := graph.get(s)) and found.tier == "edge"]
    if edge:
        lines.append(f"Customer-facing services affected: {', '.join(edge)}.")
    lines += ["", "Blast radius (origin, the services it reached, the calls that carried it):", ""]
    lines.append(blast_radius(record))
    return "\n".join(lines)


def _services_by_fingerprint(record: IncidentRecord) -> dict[str, str | None]:
    """Each alert's service: detection's first word on it, else correlation's, else the origin."""
    where: dict[str, str | None] = {}
    for down in record.incident.downstream:
        where.setdefault(down.fingerprint, down.service)
    for det in reversed(record.detections):
        where[det.alert.fingerprint] = det.service
    return where


def _last_time(record: IncidentRecord) -> datetime:
    times = [utc(a.starts_at) for a in record.incident.alerts]
    times += [utc(e.at) for e in record.timeline]
    return max(times, default=utc(record.incident.opened_at))


def _root_cause(record: IncidentRecord) -> str:
    inv = record.investigation
    if inv is None or inv.top is None:
        return "## Root causes\n\nNot established: no hypothesis was recorded."
    top = inv.top
    by_id = {e.id: e for e in inv.evidence}
    lines = [
        "## Root causes",
        "",
        f"{top.cause} (fault type `{top.fault_type.value}`, confidence {top.confidence:.2f}, "
        f"engine {inv.engine.value}).",
        "",
        "Evidence:",
    ]
    for eid in top.evidence_ids:
        ev = by_id.get(eid)
        if ev:
            link = f" ([source]({ev.link}))" if ev.link else ""
            lines.append(f"- `{eid}`: {cell(ev.finding)}{link}")
    for alt in inv.hypotheses[1:]:
        lines.append(f"- Also considered ({alt.confidence:.2f}): {alt.cause}")
    return "\n".join(lines)


def _contributing(record: IncidentRecord) -> str:
    inc, inv = record.incident, record.investigation
    lines = ["## Trigger and contributing factors", ""]
    top = inv.top if inv else None
    if top and top.change_id:
        lines.append(f"- Trigger: change `{top.change_id}` on {top.service}.")
    # A storm's symptom alerts share a few explanations: one line each, with how many.
    cascades = Counter(down.explanation for down in inc.downstream)
    for explanation, count in cascades.items():
        alerts = f" ({count} alerts)" if count > 1 else ""
        lines.append(f"- Cascade: {explanation}{alerts}.")
    if inc.duplicates:
        lines.append(f"- {len(inc.duplicates)} duplicate alert delivery(ies) were folded in.")
    for rej in inv.rejected if inv else []:
        lines.append(f"- Ruled out: {rej.cause} ({rej.service}): {rej.reason}.")
    if len(lines) == 2:
        lines.append("- None recorded.")
    return "\n".join(lines)


def _resolution(record: IncidentRecord) -> str:
    lines = ["## Resolution and recovery", ""]
    plan = record.plan
    if plan is None or plan.action is None:
        lines.append("No remediation action was planned." + (f" {plan.rationale}" if plan else ""))
    else:
        act = plan.action
        lines.append(f"- Plan: {act.summary} (`{act.id}`, risk {act.risk.value}, {act.executor}).")
        lines.append(f"- Undo if needed: {act.undo_summary}.")
    if record.approval:
        ap = record.approval
        reason = f": {ap.reason}" if ap.reason else ""
        lines.append(f"- Decision: {ap.decision.value} by {ap.by} at {_when(ap.at)} UTC{reason}.")
    if record.decisions:
        # Every attempt, refused ones included: who (as authenticated), path, plan, outcome.
        lines.append(f"- Decision attempts ({len(record.decisions)}):")
        lines.extend(f"  - {attempt_line(d)}" for d in record.decisions)
    for res in record.results:
        what = "undo" if res.undo else "action"
        mode = "dry run" if res.dry_run else "executed"
        lines.append(f"- {what} {res.action_id} {res.status.value} ({mode}, {res.executor}):")
        lines.extend(f"  - `{op}`" for op in res.would_run)
    if record.verification:
        v = record.verification
        lines.append(f"- Verification {v.status.value} at {_when(v.checked_at)} UTC: {v.detail}")
    return "\n".join(lines)


def _lessons(record: IncidentRecord) -> str:
    inc, inv = record.incident, record.investigation
    good: list[str] = []
    bad: list[str] = []
    if len(inc.alerts) > 1:
        good.append(f"{len(inc.alerts)} alerts were correlated into one incident")
    if inc.duplicates:
        good.append("duplicate deliveries were recognised and dropped")
    if inv and inv.top and inv.top.confidence >= 0.6:
        good.append(
            f"the cause was identified with {len(inv.top.evidence_ids)} cited pieces of evidence"
        )
    if record.verification and record.verification.status is VerificationStatus.PASSED:
        good.append("the remediation was verified")
    if inv and inv.top and inv.top.fault_type is FaultType.BAD_DEPLOY:
        bad.append(
            f"a bad deploy of {inv.top.service} reached production unnoticed until alerts fired"
        )
    if inc.downstream:
        bad.append(f"{len(inc.downstream)} symptom alerts fired on services that were not at fault")
    if record.verification and record.verification.status is VerificationStatus.FAILED:
        bad.append("the remediation did not clear the alerts in time")
    if record.approval and record.approval.decision.value != "approved":
        bad.append(f"the plan was {record.approval.decision.value}")
    lucky: list[str] = []
    if any(r.dry_run for r in record.results):
        lucky.append("the action ran as a dry run: production was not changed by IncidentFlow")
    lines = ["## Lessons learned", "", "### What went well", ""]
    lines += [f"- {g[0].upper()}{g[1:]}." for g in good] or ["- (to fill in)"]
    lines += ["", "### What went wrong", ""]
    lines += [f"- {b[0].upper()}{b[1:]}." for b in bad] or ["- (to fill in)"]
    lines += ["", "### Where we got lucky", ""]
    lines += [f"- {x[0].upper()}{x[1:]}." for x in lucky] or ["- (to fill in)"]
    return "\n".join(lines)


def _action_items(items: list[tuple[str, str]]) -> str:
    lines = ["## Action items", "", "| # | Action | Owner |", "|---|---|---|"]
    lines += [f"| {n} | {cell(text)} | {cell(owner)} |" for n, (text, owner) in enumerate(items, 1)]
    return "\n".join(lines)


def _detection(record: IncidentRecord) -> str:
    inc = record.incident
    sources = sorted({a.source for a in inc.alerts})
    first = min(inc.alerts, key=lambda a: a.starts_at, default=None)
    lines = ["## Detection", ""]
    if first is not None:
        lines.append(
            f"First alert: {first.name} from {first.source} at {_when(first.starts_at)} UTC; "
            f"{len(inc.alerts)} alert(s) from {', '.join(sources)} were correlated into "
            f"{inc.id} at {_when(inc.opened_at)} UTC."
        )
    for det in record.detections[:10]:
        verdict = "noise" if det.noise else det.severity.value
        lines.append(f"- {det.alert.name}: {verdict} on {det.service or '?'}")
    return "\n".join(lines)


def _supporting(record: IncidentRecord) -> str:
    lines = ["## Supporting information", ""]
    lines.append(
        f"- Temporal workflow `{record.incident.id}` holds every artifact "
        f"(`incidentflow show {record.incident.id} --json`)."
    )
    for ev in record.investigation.evidence if record.investigation else []:
        link = f" ({ev.link})" if ev.link else ""
        lines.append(f"- `{ev.id}` {ev.kind.value}: `{cell(ev.query)}`{link}")
    return "\n".join(lines)


def _items(record: IncidentRecord, graph: ServiceGraph) -> list[tuple[str, str]]:
    inc, inv = record.incident, record.investigation
    top = inv.top if inv else None
    cause_svc = top.service if top else inc.origin_service
    items: list[tuple[str, str]] = []
    if cause_svc:
        owner = _owner(graph, cause_svc)
        if top and top.fault_type is FaultType.BAD_DEPLOY:
            items.append(
                (f"Gate {cause_svc} rollouts on error rate (canary + automatic rollback)", owner)
            )
            items.append(
                (f"Add a regression test for the failure the {cause_svc} change introduced", owner)
            )
        else:
            items.append((f"Find and fix the underlying fault in {cause_svc}", owner))
        service = graph.get(cause_svc)
        if service and service.runbook:
            items.append((f"Update the runbook ({service.runbook}) with this incident", owner))
    symptom = sorted({d.service for d in inc.downstream})
    for svc in symptom:
        items.append(
            (
                f"Review {svc}'s alerts: mark dependency failures as such (inhibit or annotate)",
                _owner(graph, svc),
            )
        )
    if record.verification and record.verification.status is VerificationStatus.FAILED:
        items.append(
            (
                "Find out why the remediation did not clear the alerts",
                _owner(graph, cause_svc or ""),
            )
        )
    return items


def _owner(graph: ServiceGraph, name: str) -> str:
    service = graph.get(name)
    return service.owner if service else "unowned"
