"""The incident page: one section per agent, in the order they worked, from the record alone.

Pure: `incident_page(record, view)` returns HTML. Every string from the record goes through
`text()`; pictures are inline SVG (incidentflow/web/svg.py); the post-mortem is its Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from incidentflow.models import (
    Evidence,
    EvidenceKind,
    IncidentRecord,
    RemediationAction,
)
from incidentflow.web import svg
from incidentflow.web.layout import decide_panel, shell
from incidentflow.web.text import href, markdown, text


@dataclass(frozen=True)
class PlanRef:
    """How the page names the plan a person decides on."""

    id: str | None
    digest: str | None


def plan_ref(record: IncidentRecord) -> PlanRef:
    """The current plan's id and digest, as the workflow named them: a decision carries both."""
    plan = record.plan
    return PlanRef(id=plan.id if plan else None, digest=plan.digest if plan else None)


@dataclass(frozen=True)
class View:
    """Who looks, what they may do, and where the Temporal UI is."""

    identity: str
    verbs: list[str] = field(default_factory=list)
    csrf: str = ""
    temporal_ui: str | None = None
    namespace: str = "default"
    flash: str = ""
    flash_ok: bool = False


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], *, cls: str = "") -> str:
    """A table; cells are HTML already (escape them with text() first)."""
    ths = "".join(f"<th scope='col'>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f"<div class='scroll'><table class='{cls}'><thead><tr>{ths}</tr></thead>"
        f"<tbody>{trs}</tbody></table></div>"
    )


def _section(anchor: str, title: str, body: str) -> str:
    return (
        f"<section id='{anchor}' aria-labelledby='{anchor}-h'>"
        f"<h2 id='{anchor}-h'>{title}</h2>{body}</section>"
    )


def _link(url: str | None, label: str) -> str:
    safe = href(url)
    return f"<a href='{safe}' rel='noreferrer noopener'>{text(label)}</a>" if safe else text(label)


def alerts_section(record: IncidentRecord) -> str:
    inc = record.incident
    downstream = {d.fingerprint: d for d in inc.downstream}
    duplicates = {d.fingerprint: d for d in inc.duplicates}
    rows = []
    for alert in inc.alerts:
        down = downstream.get(alert.fingerprint)
        dup = duplicates.get(alert.fingerprint)
        flags = []
        if down:
            edges = " → ".join(f"{e.caller}→{e.callee}" for e in down.path)
            flags.append(
                f"<span class='tag'>downstream</span> {text(edges)}: {text(down.explanation)}"
            )
        if dup:
            flags.append(
                f"<span class='tag'>duplicate</span> of {text(dup.duplicate_of)}: "
                f"{text(dup.reason)}"
            )
        rows.append(
            [
                text(alert.name),
                text(alert.labels.get("service", "")),
                text(alert.status.value),
                text(_when(alert.starts_at)),
                text(alert.annotations.get("summary", "")),
                "<br>".join(flags) or "",
            ]
        )
    body = _table(
        ["alert", "service", "status", "since", "summary", "downstream / duplicate"], rows
    )
    if record.digest and record.digest.alerts:
        counted = ", ".join(f"{text(k)} {v}" for k, v in sorted(record.digest.by_name.items()))
        body += f"<p>{record.digest.alerts} more alert deliveries counted, not kept: {counted}</p>"
    extra = [d for d in inc.duplicates if d.fingerprint not in {a.fingerprint for a in inc.alerts}]
    if extra:
        body += "<h3>Duplicates</h3>" + _table(
            ["fingerprint", "duplicate of", "why"],
            ([text(d.fingerprint), text(d.duplicate_of), text(d.reason)] for d in extra),
        )
    return _section("alerts", f"Alerts ({len(inc.alerts)})", body)


def detection_section(record: IncidentRecord) -> str:
    rows = [
        [
            text(d.alert.name),
            text(d.service or "—"),
            text(d.severity.value),
            "noise" if d.noise else ("flapping" if d.flapping else "page"),
            "<br>".join(text(r) for r in d.reasons),
            text(d.engine.value),
        ]
        for d in record.detections
    ]
    body = _table(["alert", "service", "severity", "decision", "why", "engine"], rows)
    return _section("detection", "Detection", body if rows else "<p>No detections recorded.</p>")


def correlation_section(record: IncidentRecord) -> str:
    inc = record.incident
    reasons = "".join(f"<li>{text(r)}</li>" for r in inc.reasons)
    body = (
        f"<p>Origin: <strong>{text(inc.origin_service or 'unknown')}</strong> · services "
        f"{text(', '.join(inc.services))}</p><ul>{reasons}</ul>"
    )
    graph = svg.blast_radius(inc)
    if graph:
        body += (
            f"<figure class='diagram'>{graph}<figcaption>Blast radius: arrows point at the "
            "dependency.</figcaption></figure>"
        )
    return _section("correlation", "Correlation", body)


def _evidence(ev: Evidence) -> str:
    picture = ""
    if ev.kind is EvidenceKind.METRIC:
        values, cut = svg.evidence_points(ev)
        picture = svg.sparkline(values, cut=cut, label=ev.query)
    facts = ""
    if ev.kind is EvidenceKind.LOG:
        facts = (
            f"<p class='facts'>template <code>{text(ev.attributes.get('signature', ''))}</code>: "
            f"{text(ev.attributes.get('baseline_count', '?'))} before onset, "
            f"{text(ev.attributes.get('count', '?'))} after</p>"
        )
    elif ev.kind is EvidenceKind.CHANGE:
        keys = ("change_id", "kind", "before", "after", "author")
        facts = (
            "<p class='facts'>"
            + " · ".join(f"{k} {text(ev.attributes[k])}" for k in keys if k in ev.attributes)
            + "</p>"
        )
    return (
        f"<li class='evidence'><span class='tag'>{text(ev.kind.value)}</span> "
        f"<code>{text(ev.id)}</code> {text(ev.finding)}{picture}{facts}"
        f"<p class='query'>{text(ev.source)}: <code>{text(ev.query)}</code> "
        f"{_link(ev.link, 'open') if ev.link else ''}</p></li>"
    )


def investigation_section(record: IncidentRecord) -> str:
    inv = record.investigation
    if inv is None:
        return _section("investigation", "Investigation", "<p>Not investigated yet.</p>")
    by_id = {e.id: e for e in inv.evidence}
    parts = [
        f"<p>{text(inv.summary)}</p><p class='meta'>engine {text(inv.engine.value)}"
        f"{' — ' + text(inv.engine_reason) if inv.engine_reason else ''} · evidence "
        f"{text(inv.status.value)}: "
        + ", ".join(f"{text(s.name)} {text(s.state.value)}" for s in inv.sources)
        + "</p><ol class='hypotheses'>"
    ]
    for h in inv.hypotheses:
        cited = "".join(_evidence(by_id[i]) for i in h.evidence_ids if i in by_id)
        parts.append(
            f"<li class='hypothesis'><h3>{text(h.cause)}</h3><p class='meta'>{text(h.service)} · "
            f"{text(h.fault_type.value)} · confidence {h.confidence:.2f}</p><ul>{cited}</ul></li>"
        )
    parts.append("</ol>")
    cited_ids = {i for h in inv.hypotheses for i in h.evidence_ids}
    others = [e for e in inv.evidence if e.id not in cited_ids]
    if others:
        parts.append(
            f"<details><summary>Evidence no hypothesis cites ({len(others)})</summary><ul>"
            + "".join(_evidence(e) for e in others)
            + "</ul></details>"
        )
    if inv.rejected:
        parts.append(
            "<h3>Rejected candidates</h3>"
            + _table(
                ["cause", "service", "why not"],
                ([text(r.cause), text(r.service), text(r.reason)] for r in inv.rejected),
            )
        )
    return _section("investigation", "Investigation", "".join(parts))


def _action(action: RemediationAction, ref: PlanRef | None) -> str:
    params = ", ".join(
        f"{text(k)}={text(v)}" for k, v in action.params.model_dump(mode="json").items()
    )
    digest = (
        f"<dt>digest</dt><dd><code>{text(ref.digest)}</code></dd>" if ref and ref.digest else ""
    )
    return (
        f"<dl class='plan'><dt>action</dt><dd>{text(action.summary)} <code>{params}</code></dd>"
        f"<dt>id</dt><dd><code>{text(action.id)}</code></dd>{digest}"
        f"<dt>risk</dt><dd class='risk-{text(action.risk.value)}'>{text(action.risk.value)}</dd>"
        f"<dt>verification</dt><dd>{text(action.verify.description)} "
        f"(within {action.verify.window_seconds}s)</dd>"
        f"<dt>undo</dt><dd>{text(action.undo_summary)}</dd>"
        f"<dt>executor</dt><dd>{text(action.executor)}</dd></dl>"
    )


def plan_section(record: IncidentRecord) -> str:
    plan = record.plan
    if plan is None:
        return _section("plan", "Remediation plan", "<p>No plan yet.</p>")
    version = f" <code>{text(plan.id)}</code>" if plan.id else ""
    body = f"<h3>Current plan{version}</h3><p>{text(plan.rationale)}</p>"
    body += _action(plan.action, plan_ref(record)) if plan.action else "<p>No action proposed.</p>"
    if plan.alternatives:
        body += "<h3>Alternatives</h3>" + "".join(_action(a, None) for a in plan.alternatives)
    earlier = [p for p in record.plans if p.id != plan.id]
    if earlier:
        # Every version the investigation went through, newest first: what changed and why.
        body += "<h3>Earlier versions</h3>"
        for old in reversed(earlier):
            ref = PlanRef(id=old.id or None, digest=old.digest)
            why = f" ({text(old.reason)})" if old.reason else ""
            body += f"<h4><code>{text(old.id)}</code>{why}</h4><p>{text(old.rationale)}</p>"
            body += _action(old.action, ref) if old.action else "<p>No action proposed.</p>"
    return _section("plan", "Remediation plan", body)


def decisions_section(record: IncidentRecord) -> str:
    rows = [
        [
            text(_when(d.at)),
            text(d.decision.value),
            text(d.identity or d.by),
            text(d.path.value if d.path else "—"),
            "signed" if d.authenticated else "unsigned",
            f"<code>{text((d.plan_digest or '—')[:16])}</code>",
            text(d.reason),
        ]
        for d in record.decisions
    ]
    final = record.approval
    head = (
        f"<p>Decided: <strong>{text(final.decision.value)}</strong> by "
        f"{text(', '.join(final.approvers) or final.by)}</p>"
        if final
        else "<p>No final decision yet.</p>"
    )
    table = _table(["at", "outcome", "who", "path", "proof", "plan digest", "reason"], rows)
    return _section("decisions", "Decisions", head + (table if rows else ""))


def execution_section(record: IncidentRecord) -> str:
    rows = [
        [
            text(r.action_id),
            "undo" if r.undo else "do",
            text(r.status.value),
            text(r.executor) + (" (dry run)" if r.dry_run else ""),
            "<br>".join(text(c) for c in r.would_run),
            text(_when(r.executed_at)),
        ]
        for r in record.results
    ]
    checks = record.verifications or ([record.verification] if record.verification else [])
    body = _table(["action", "kind", "status", "executor", "ran", "at"], rows) if rows else ""
    body += "".join(
        f"<p>Verification <strong>{text(v.status.value)}</strong> at {text(_when(v.checked_at))}: "
        f"{text(v.detail)}</p>"
        for v in checks
    )
    return _section("execution", "Execution and verification", body or "<p>Nothing ran yet.</p>")


def timeline_section(record: IncidentRecord) -> str:
    rows = [
        [text(_when(e.at)), text(e.kind.value), text(e.actor), text(e.summary)]
        for e in record.timeline
    ]
    return _section("timeline", "Timeline", _table(["at", "kind", "who", "what"], rows))


def postmortem_section(record: IncidentRecord) -> str:
    pm = record.postmortem
    if pm is None:
        return _section("postmortem", "Post-mortem", "<p>Drafted when the incident closes.</p>")
    body = markdown(pm.markdown, diagram=svg.blast_radius(record.incident))
    return _section("postmortem", "Post-mortem", f"<article class='markdown'>{body}</article>")


def incident_page(record: IncidentRecord, view: View) -> str:
    """The whole page for one incident."""
    inc = record.incident
    state = record.state.value + (" (paused)" if record.paused else "")
    temporal = ""
    if view.temporal_ui:
        url = f"{view.temporal_ui.rstrip('/')}/namespaces/{view.namespace}/workflows/{inc.id}"
        temporal = f" · {_link(url, 'history in the Temporal UI')}"
    header = (
        f"<header class='incident'><p class='crumbs'><a href='/ui/'>Incidents</a></p>"
        f"<h1><span class='sev sev-{text(inc.severity.value)}'>{text(inc.severity.value)}</span> "
        f"{text(inc.title)}</h1><p class='meta'><code>{text(inc.id)}</code> · state "
        f"<strong class='state' id='state'>{text(state)}</strong> · waiting for "
        f"{text(record.waiting_for or '—')} · owner {text(record.owner or '—')}"
        f"{' · escalated' if record.escalated else ''} · opened {text(_when(inc.opened_at))}"
        f"{temporal}</p></header>"
    )
    sections = [
        alerts_section(record),
        detection_section(record),
        correlation_section(record),
        investigation_section(record),
        plan_section(record),
        decisions_section(record),
        execution_section(record),
        timeline_section(record),
        postmortem_section(record),
    ]
    panel = decide_panel(inc.id, record, plan_ref(record), view)
    return shell(
        f"{inc.id} · {inc.title}",
        header + panel + "".join(sections),
        identity=view.identity,
        csrf=view.csrf,
    )
