"""A storm's post-mortem stays readable: the timeline is bounded with digest rows that count
what they stand for, people's and agents' rows survive inside a burst of alerts, and cascades
that share an explanation are one line. The full record stays in the post-mortem's data."""

from __future__ import annotations

import re
from datetime import timedelta

from scenario_alerts import demo, demo_incident, demo_investigation, demo_plan

from incidentflow.agents.postmortem import draft
from incidentflow.agents.postmortem_timeline import (
    ALERT_RUN_KEPT,
    HEAD_KEPT,
    ROWS_KEPT,
    bounded_rows,
    timeline_rows,
)
from incidentflow.models import (
    DependencyEdge,
    DownstreamAlert,
    IncidentRecord,
    IncidentState,
    TimelineEvent,
    TimelineKind,
)

STORM = 1_000


def storm() -> IncidentRecord:
    """The demo incident grown to STORM alerts, one joining event each, a person's decision
    half-way through the storm and a note after it."""
    inc = demo_incident()
    origin = inc.origin_service or "payments"
    alerts, downstream = [], []
    for n in range(STORM):
        fp = f"storm-{n:05d}"
        alerts.append(inc.alerts[n % len(inc.alerts)].model_copy(update={"fingerprint": fp}))
        service = ("checkout", "api-gateway")[n % 2]
        downstream.append(
            DownstreamAlert(
                fingerprint=fp,
                service=service,
                path=[DependencyEdge(caller=service, callee=origin)],
                explanation=f"{service} calls {origin}",
            )
        )
    start = min(a.starts_at for a in inc.alerts)
    timeline = [
        TimelineEvent(
            at=start + timedelta(seconds=n),
            kind=TimelineKind.ALERT,
            actor="correlation",
            summary=f"alert {n} joined",
        )
        for n in range(STORM)
    ]
    middle = start + timedelta(seconds=STORM // 2, milliseconds=500)
    timeline.insert(
        STORM // 2 + 1,
        TimelineEvent(
            at=middle, kind=TimelineKind.DECISION, actor="dana", summary="approved the rollback"
        ),
    )
    timeline.append(
        TimelineEvent(
            at=start + timedelta(seconds=STORM + 5),
            kind=TimelineKind.NOTE,
            actor="erin",
            summary="customers confirm checkout works",
        )
    )
    return IncidentRecord(
        incident=inc.model_copy(update={"alerts": alerts, "downstream": downstream}),
        state=IncidentState.CLOSED,
        investigation=demo_investigation(),
        plan=demo_plan(),
        timeline=timeline,
        owner="dana",
    )


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}")[1].split("\n## ")[0]


def test_a_storms_timeline_is_bounded_and_its_digests_count_every_row() -> None:
    record = storm()
    pm = draft(record, demo().topology)
    table = [
        line
        for line in _section(pm.markdown, "Timeline").splitlines()
        if line.startswith("| 2")  # a row starts with its date
    ]
    every = timeline_rows(record)
    assert len(every) == 2 * STORM + 2 + 1  # fired, joined, decision, note, the blamed change
    assert len(table) <= ROWS_KEPT
    assert f"{len(every)} rows in all" in pm.markdown
    digests = [line for line in table if "| digest |" in line]
    folded = sum(int(m) for m in re.findall(r"(\d+) more alert rows", "".join(digests)))
    alert_rows = [line for line in table if "| alert fired |" in line or "| alert |" in line]
    assert folded + len(alert_rows) == 2 * STORM
    assert len(alert_rows) <= 3 * ALERT_RUN_KEPT
    # The person's decision inside the storm and the note after it are kept, in order.
    decision = next(n for n, line in enumerate(table) if "approved the rollback" in line)
    note = next(n for n, line in enumerate(table) if "customers confirm" in line)
    assert 0 < decision < note
    # It splits the burst: a digest before it, and the rest starts again with its first rows.
    assert "| digest |" in table[decision - 1]
    assert "| digest |" in table[decision + 1 + ALERT_RUN_KEPT]
    # The Mermaid picture draws the same bounded rows, and nothing is lost from the data.
    chart = pm.markdown.split("```mermaid\ntimeline")[1].split("```")[0]
    assert chart.count(" : ") <= ROWS_KEPT and "digest" in chart
    assert len(pm.timeline) == len(record.timeline)
    assert len(pm.markdown) < 24_000


def test_cascades_that_share_an_explanation_are_one_line_with_a_count() -> None:
    md = draft(storm(), demo().topology).markdown
    factors = _section(md, "Trigger and contributing factors")
    assert factors.count("checkout calls payments") == 1
    assert f"- Cascade: checkout calls payments ({STORM // 2} alerts)." in factors
    impact = _section(md, "Impact")
    assert "| checkout |" in impact and "| payments |" in impact


def test_a_long_stretch_of_events_keeps_its_start_and_its_end() -> None:
    record = storm()
    start = record.incident.opened_at
    notes = [
        TimelineEvent(
            at=start + timedelta(hours=1, seconds=n),
            kind=TimelineKind.NOTE,
            actor=f"person-{n % 3}",
            summary=f"note {n}",
        )
        for n in range(200)
    ]
    rows = bounded_rows(record.model_copy(update={"timeline": notes}))
    texts = [r.text for r in rows]
    assert len(rows) == ROWS_KEPT
    assert texts[-1] == "note 199" and "note 0" in texts
    (cut,) = [r for r in rows if r.kind == "digest" and "more rows" in r.text]
    shown = sum(1 for t in texts if t.startswith("note "))
    assert cut.text.startswith(f"{200 - shown} more rows until ")
    assert rows.index(cut) == HEAD_KEPT


def test_a_small_incident_is_shown_whole_and_without_a_change_it_does_not_blame() -> None:
    inc = demo_incident()
    inv = demo_investigation()
    assert inv.top is not None and inv.top.change_id
    record = IncidentRecord(
        incident=inc, state=IncidentState.CLOSED, investigation=inv, plan=demo_plan()
    )
    rows = bounded_rows(record)
    assert rows == timeline_rows(record) and all(r.kind != "digest" for r in rows)
    assert sum(r.kind == "change" for r in rows) == 1
    blameless = inv.model_copy(
        update={
            "hypotheses": [
                inv.top.model_copy(update={"change_id": None}),
                *inv.hypotheses[1:],
            ]
        }
    )
    plain = record.model_copy(update={"investigation": blameless})
    assert all(r.kind != "change" for r in timeline_rows(plain))
