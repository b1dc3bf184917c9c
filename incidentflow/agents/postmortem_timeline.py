"""The post-mortem's timeline: alerts, the blamed change and every recorded event, merged by
time and bounded, so a storm of 1,000 alerts reads as a story instead of a 1,000-row table.

A burst of alert rows keeps its first ALERT_RUN_KEPT rows and becomes one digest row: how many
more, until when, and by which alert. The agents' and people's rows are all kept unless there
are more than ROWS_KEPT rows in all; then the first and the last are kept around a digest row.
Nothing is lost: `PostMortem.timeline` and the incident's JSON keep every event. Pure and
deterministic.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from incidentflow.agents.common import utc
from incidentflow.agents.postmortem_diagrams import timeline_chart
from incidentflow.models import IncidentRecord, TimelineKind

# The first alerts of a burst show how it started (a small incident's alerts all fit: the
# demo's five are eleven rows with their intake events); the rest are counted in one row.
ALERT_RUN_KEPT = 12
# A table a person reads in one sitting (and the page parses in a few milliseconds).
ROWS_KEPT = 80
# Of ROWS_KEPT when cut: the start of the incident, then its latest moves.
HEAD_KEPT = 50
# How many alert names (or actors) a digest row names before counting the rest.
TOPICS_NAMED = 4
FIRED = "alert fired"
DIGEST = "digest"
_ALERT_KINDS = (FIRED, TimelineKind.ALERT.value)


class Row(NamedTuple):
    """One line of the timeline: when, what kind, who, what happened."""

    at: datetime
    kind: str
    actor: str
    text: str


class _Entry(NamedTuple):
    row: Row
    # What a digest counts it under (the alert's name for a fired alert, else the actor) and
    # how many rows it stands for: one, or a folded burst's count.
    counts: tuple[tuple[str, int], ...]


def timeline_rows(record: IncidentRecord) -> list[Row]:
    """Every row, merged by time; the recorded timeline keeps its own order at equal times."""
    return [e.row for e in _entries(record)]


def bounded_rows(record: IncidentRecord) -> list[Row]:
    """The rows the post-mortem shows: alert bursts and long stretches folded into digests."""
    return _bound(_fold_bursts(list(_entries(record))))


def timeline_section(record: IncidentRecord) -> str:
    """The `## Timeline` section: the bounded table and its Mermaid picture."""
    entries = list(_entries(record))
    rows = _bound(_fold_bursts(entries))
    total = len(entries)
    lines = ["## Timeline", ""]
    if total > len(rows):
        lines += [
            f"{total} rows in all; bursts of alerts and long stretches are counted in "
            f"'{DIGEST}' rows. Every event is in the post-mortem's JSON and in "
            f"`incidentflow show {record.incident.id} --json`.",
            "",
        ]
    lines += ["| Time (UTC) | Kind | Actor | What happened |", "|---|---|---|---|"]
    for at, kind, actor, text in rows:
        lines.append(f"| {_when(at)} | {kind} | {cell(actor)} | {cell(text)} |")
    lines += ["", timeline_chart(record, list(rows))]
    return "\n".join(lines)


def cell(text: str) -> str:
    """`text` inside a Markdown table cell: untrusted input cannot break out of it."""
    return text.replace("|", "\\|").replace("\n", " ")


def _when(at: datetime) -> str:
    return utc(at).strftime("%Y-%m-%d %H:%M:%S")


def _entries(record: IncidentRecord) -> Iterator[_Entry]:
    alerts = sorted(
        (
            _Entry(
                Row(
                    utc(a.starts_at),
                    FIRED,
                    a.source,
                    f"{a.name} ({a.labels.get('severity', 'no severity')}): {a.summary}",
                ),
                ((a.name, 1),),
            )
            for a in record.incident.alerts
        ),
        key=lambda e: e.row.at,
    )
    changes = []
    inv = record.investigation
    top = inv.top if inv else None
    blamed = top.change_id if top else None
    # Only the change the top hypothesis blames (none when it blames no change).
    for ev in inv.evidence if inv and blamed else []:
        if ev.attributes.get("change_id") == blamed:
            row = Row(utc(ev.start), "change", ev.service or "-", ev.finding)
            changes.append(_Entry(row, (("change", 1),)))
    events = (
        _Entry(Row(utc(e.at), e.kind.value, e.actor, e.summary), ((e.actor, 1),))
        for e in record.timeline
    )
    yield from heapq.merge(changes, alerts, events, key=lambda e: e.row.at)


def _fold_bursts(entries: list[_Entry]) -> list[_Entry]:
    """Each run of consecutive alert rows: its first ALERT_RUN_KEPT, then one digest row."""
    out: list[_Entry] = []
    burst: list[_Entry] = []
    for entry in entries:
        if entry.row.kind in _ALERT_KINDS:
            burst.append(entry)
            continue
        out += _folded(burst)
        burst = []
        out.append(entry)
    return out + _folded(burst)


def _folded(burst: list[_Entry]) -> list[_Entry]:
    if len(burst) <= ALERT_RUN_KEPT + 1:
        return burst
    return [*burst[:ALERT_RUN_KEPT], _digest(burst[ALERT_RUN_KEPT:], "alert rows")]


def _bound(entries: list[_Entry]) -> list[Row]:
    if len(entries) > ROWS_KEPT:
        tail = ROWS_KEPT - HEAD_KEPT - 1
        middle = entries[HEAD_KEPT:-tail]
        entries = [*entries[:HEAD_KEPT], _digest(middle, "rows"), *entries[-tail:]]
    return [e.row for e in entries]


def _digest(entries: Sequence[_Entry], noun: str) -> _Entry:
    """One row standing for `entries`: how many, until when, under which names."""
    by_topic: Counter[str] = Counter()
    for e in entries:
        for topic, n in e.counts:
            by_topic[topic] += n
    named = [f"{t} {n}" for t, n in by_topic.most_common(TOPICS_NAMED)]
    if len(by_topic) > TOPICS_NAMED:
        named.append(f"{len(by_topic) - TOPICS_NAMED} more")
    last = max(e.row.at for e in entries)
    text = f"{by_topic.total()} more {noun} until {_when(last)}: {', '.join(named)}"
    return _Entry(Row(entries[0].row.at, DIGEST, "-", text), tuple(by_topic.items()))
