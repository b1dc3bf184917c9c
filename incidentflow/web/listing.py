"""The incident list: Temporal visibility (search attributes and memo), filtered, as HTML.

Visibility is Temporal's own index, so the list is right after any restart of ours and needs no
worker. It holds what the workflows publish: state, severity, service, the title (memo) and the
start time and the owner (`IncidentOwner`, kept current by `assign`). The exact "waiting for"
lives in the record, not in visibility: the list shows what each state waits for, and the
incident page the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from incidentflow.errors import BadInput, TemporalUnavailable
from incidentflow.models import IncidentState, Severity
from incidentflow.search import OWNER_KEY, SERVICE_KEY, SEVERITY_KEY, STATE_KEY
from incidentflow.web.layout import shell
from incidentflow.web.text import text

# A person waits on this; a slow visibility store is reported rather than waited on.
LIST_TIMEOUT = timedelta(seconds=10)
# The most rows one page of the list shows.
MAX_ROWS = 500
# Filter values are keywords: nothing that could end a quoted string in a visibility query
# (an owner may be an address, or a name with a space).
KEYWORD = re.compile(r"^[A-Za-z0-9_.:/@ -]{1,200}$")
STOPPED = {
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
# What each state waits for (the record says it exactly; the list is from visibility alone).
WAITS_FOR = {
    IncidentState.OPEN.value: "investigation",
    IncidentState.INVESTIGATING.value: "investigation",
    IncidentState.PLANNING.value: "a plan",
    IncidentState.AWAITING_APPROVAL.value: "a decision",
    IncidentState.EXECUTING.value: "the action",
    IncidentState.VERIFYING.value: "verification",
    IncidentState.UNDOING.value: "the undo",
    IncidentState.DRAFTING_POSTMORTEM.value: "the post-mortem",
    IncidentState.NEEDS_ATTENTION.value: "a person",
}
FILTERS = {
    "state": STATE_KEY.name,
    "severity": SEVERITY_KEY.name,
    "service": SERVICE_KEY.name,
    "owner": OWNER_KEY.name,
}


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    severity: str
    state: str
    service: str
    started: datetime
    owner: str = "?"


def visibility_query(filters: dict[str, str]) -> str:
    """The list query for `filters` (state, severity, service, owner); BadInput for a bad
    value."""
    clauses = ["WorkflowType = 'IncidentWorkflow'"]
    for key, attribute in FILTERS.items():
        value = filters.get(key, "").strip()
        if not value:
            continue
        if not KEYWORD.match(value):
            raise BadInput(f"{key} filter {value[:40]!r}: letters, digits and _ . : / - only")
        clauses.append(f"{attribute} = '{value}'")
    return " AND ".join(clauses)


async def incident_rows(client: Client, filters: dict[str, str]) -> list[Row]:
    """Incidents newest first, as visibility knows them."""
    rows: list[Row] = []
    try:
        async for wf in client.list_workflows(
            visibility_query(filters), limit=MAX_ROWS, rpc_timeout=LIST_TIMEOUT
        ):
            attrs = wf.typed_search_attributes
            memo = await wf.memo()
            stopped = STOPPED.get(wf.status or WorkflowExecutionStatus.RUNNING)
            rows.append(
                Row(
                    id=wf.id,
                    title=str(memo.get("title", "")),
                    severity=attrs.get(SEVERITY_KEY) or "?",
                    state=stopped or attrs.get(STATE_KEY) or "?",
                    service=attrs.get(SERVICE_KEY) or "?",
                    started=wf.start_time,
                    # Incidents started before the attribute existed have none.
                    owner=attrs.get(OWNER_KEY) or "?",
                )
            )
    except RPCError as err:
        raise TemporalUnavailable(f"cannot list incidents: {err.message}") from err
    return sorted(rows, key=lambda r: r.started, reverse=True)


def _age(started: datetime, now: datetime) -> str:
    seconds = max(0, int((now - started).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


def _select(name: str, options: list[str], chosen: str) -> str:
    opts = "".join(
        f"<option value='{text(o)}'{' selected' if o == chosen else ''}>{text(o or 'any')}</option>"
        for o in ["", *options]
    )
    return (
        f"<label for='filter-{name}'>{name}</label>"
        f"<select id='filter-{name}' name='{name}'>{opts}</select>"
    )


def list_page(
    rows: list[Row], filters: dict[str, str], *, identity: str, csrf: str, problem: str = ""
) -> str:
    """The incident list with its filter form."""
    now = datetime.now(UTC)
    form = (
        "<form method='get' action='/ui/' class='filters'>"
        + _select("state", [s.value for s in IncidentState], filters.get("state", ""))
        + _select("severity", [s.value for s in Severity], filters.get("severity", ""))
        + "<label for='filter-service'>service</label><input id='filter-service' name='service' "
        f"value='{text(filters.get('service', ''))}'>"
        "<label for='filter-owner'>owner</label><input id='filter-owner' name='owner' "
        f"value='{text(filters.get('owner', ''))}'>"
        "<button type='submit'>Filter</button></form>"
    )
    body_rows = "".join(
        f"<tr><td><a href='/ui/incidents/{text(r.id)}'>{text(r.id)}</a></td>"
        f"<td>{text(r.title)}</td><td><span class='sev sev-{text(r.severity)}'>"
        f"{text(r.severity)}</span></td><td class='state'>{text(r.state)}</td>"
        f"<td>{text(r.service)}</td><td>{text(r.owner)}</td><td>{_age(r.started, now)}</td>"
        f"<td>{text(WAITS_FOR.get(r.state, '—'))}</td></tr>"
        for r in rows
    )
    table = (
        "<div class='scroll'><table class='incidents'><thead><tr>"
        + "".join(
            f"<th scope='col'>{h}</th>"
            for h in ("id", "title", "severity", "state", "service", "owner", "age", "waiting for")
        )
        + f"</tr></thead><tbody>{body_rows}</tbody></table></div>"
    )
    shown = f"<p class='meta'>{len(rows)} incident(s), newest first, from Temporal visibility.</p>"
    flash = f"<p class='flash refused' role='alert'>{text(problem)}</p>" if problem else ""
    return shell(
        "Incidents",
        f"<h1>Incidents</h1>{flash}{form}{shown}{table}",
        identity=identity,
        csrf=csrf,
    )
