"""Control characters from alerts, logs and models never reach a terminal or a Markdown file raw.

Issue 14, finding 7: an ANSI escape in an alert annotation reached the terminal through
`postmortem`. Every view and every written file shows such characters as escapes instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from scenario_alerts import demo, demo_incident, demo_investigation, demo_plan

from incidentflow.agents.postmortem import draft
from incidentflow.cli import render
from incidentflow.cli.output import echo, echo_json
from incidentflow.cli.takeover import plan_text
from incidentflow.logs import TextFormatter
from incidentflow.models import IncidentRecord, IncidentState
from incidentflow.postmortems import write_postmortem
from incidentflow.visible import one_line, visible, visible_json

# Colours, an OSC 52 clipboard write, a carriage return that overwrites the line, a backspace,
# an 8-bit CSI that clears the screen, a right-to-left override, and a newline that would
# forge a line of the view.
HOSTILE = (
    "\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 ok\rforged\x08 \u009b2J \u202eevil\nINC-fake  closed"
)
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_record() -> IncidentRecord:
    inc = demo_incident()
    first = inc.alerts[0]
    evil = first.model_copy(
        update={"name": "Evil\x1bName", "annotations": {**first.annotations, "summary": HOSTILE}}
    )
    investigation = demo_investigation()
    evidence = [investigation.evidence[0].model_copy(update={"finding": HOSTILE})]
    return IncidentRecord(
        incident=inc.model_copy(update={"alerts": [evil, *inc.alerts[1:]], "title": HOSTILE}),
        state=IncidentState.CLOSED,
        investigation=investigation.model_copy(
            update={"evidence": evidence + investigation.evidence[1:]}
        ),
        plan=demo_plan().model_copy(update={"rationale": HOSTILE}),
        owner="dana\x1b[8m",
    )


def test_escapes_are_visible_and_reversible_in_json() -> None:
    assert visible("a\x1b[1mb\tc\nd\u202e") == "a\\x1b[1mb\tc\nd\\u202e"
    assert one_line("a\nb\tc\rd") == "a\\x0ab\\x09c\\x0dd"
    assert visible("plain text, ünïcode, emoji 💥") == "plain text, ünïcode, emoji 💥"
    document = json.dumps({"s": HOSTILE}, ensure_ascii=False)
    safe = visible_json(document)
    assert not RAW.search(safe) and json.loads(safe) == {"s": HOSTILE}


def test_terminal_views_show_no_raw_control_character() -> None:
    record = hostile_record()
    for text in (render.record_text(record), plan_text(record)):
        assert not RAW.search(text), RAW.findall(text)
        assert "\\x1b[31mred" in text
        # The newline in the title did not forge a line of its own.
        assert not any(line.startswith("INC-fake") for line in text.splitlines())


def test_cli_output_escapes_what_click_would_pass_through() -> None:
    record = hostile_record()

    def run(write: object) -> str:
        import click

        @click.command()
        def cmd() -> None:
            assert callable(write)
            write()

        result = CliRunner().invoke(cmd, color=True)
        assert result.exit_code == 0, result.output
        return result.output

    text = run(lambda: echo(record.incident.title))
    assert not RAW.search(text) and "\\x9b2J" in text
    doc = run(lambda: echo_json(record.model_dump_json()))
    assert not RAW.search(doc)
    assert json.loads(doc)["incident"]["title"] == HOSTILE


def test_postmortem_markdown_and_written_files_carry_no_control_character(
    tmp_path: Path,
) -> None:
    record = hostile_record()
    pm = draft(record, demo().topology)
    assert not RAW.search(pm.markdown), RAW.findall(pm.markdown)
    assert "\\x1b[31mred" in pm.markdown
    # A record drafted before escaping existed is made safe when it is written.
    old = pm.model_copy(update={"markdown": f"# {HOSTILE}\n"})
    for path in write_postmortem(tmp_path, old):
        assert not RAW.search(path.read_text()), path
    written = json.loads((tmp_path / f"{pm.incident_id}.json").read_text())
    assert written["markdown"] == f"# {HOSTILE}\n"


def test_text_log_lines_escape_what_they_quote() -> None:
    import logging

    entry = logging.LogRecord("ingest", logging.WARNING, __file__, 1, "%s", (HOSTILE,), None)
    line = TextFormatter().format(entry)
    assert not RAW.search(line) and "\n" not in line
