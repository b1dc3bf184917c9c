"""The deepened post-mortem: SRE-book sections, Mermaid pictures, JSON, edits preserved."""

from __future__ import annotations

import json
from pathlib import Path

from scenario_alerts import demo, demo_incident, demo_investigation, demo_plan

from incidentflow.agents.postmortem import draft
from incidentflow.models import IncidentRecord, IncidentState, PostMortem
from incidentflow.postmortems import write_postmortem


def record() -> IncidentRecord:
    return IncidentRecord(
        incident=demo_incident(),
        state=IncidentState.CLOSED,
        investigation=demo_investigation(),
        plan=demo_plan(),
        owner="dana",
    )


def test_sections_of_the_sre_template_and_two_mermaid_pictures() -> None:
    pm = draft(record(), demo().topology)
    md = pm.markdown
    order = [
        "## Summary",
        "## Impact",
        "## Root causes",
        "## Trigger",
        "## Resolution",
        "## Detection",
        "## Action items",
        "## Lessons learned",
        "### Where we got lucky",
        "## Timeline",
        "## Supporting information",
    ]
    positions = [md.index(h) for h in order]
    assert positions == sorted(positions)
    assert "**Authors:**" in md and "dana" in md
    graph = md.split("```mermaid\nflowchart LR")[1].split("```")[0]
    inc = demo_incident()
    assert "payments (origin" in graph and ":::origin" in graph
    for down in inc.downstream:
        assert down.service in graph
    assert "-->|calls|" in graph
    timeline = md.split("```mermaid\ntimeline")[1].split("```")[0]
    assert "PaymentsHighErrorRate" in timeline
    assert pm.impact_start is not None and pm.action_items
    assert all(i.owner != "unowned" for i in pm.action_items[:1])


def test_written_files_keep_a_persons_edits(tmp_path: Path) -> None:
    pm = draft(record(), demo().topology)
    md, js = write_postmortem(tmp_path, pm)
    assert md.name == f"{pm.incident_id}.md" and json.loads(js.read_text())["incident_id"]
    assert PostMortem.model_validate_json(js.read_text()) == pm
    md.write_text(md.read_text() + "\nA person's paragraph.\n")
    again = pm.model_copy(update={"markdown": pm.markdown + "\nregenerated\n"})
    written = write_postmortem(tmp_path, again)
    assert written[0].name == f"{pm.incident_id}.draft.md"
    assert "A person's paragraph." in md.read_text()
    assert "regenerated" in written[0].read_text()
    # Untouched files are simply regenerated in place.
    assert write_postmortem(tmp_path, pm)[1] == js
