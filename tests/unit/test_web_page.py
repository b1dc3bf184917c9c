"""The incident page rendered from a record (issue 20 items 3 and 5), without a server.

The demo's record has every agent's artifact; the page shows them in order, draws sparklines
from the evidence's points and the blast radius as SVG, renders the post-mortem's Markdown,
and binds the decision forms to the plan's id and digest. Hostile text (HTML, script, ANSI and
bidi controls) from an alert and from a model's answer reaches the page only as escaped text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from scenario_alerts import demo, demo_incident, demo_investigation, demo_plan

from incidentflow.agents.postmortem import draft
from incidentflow.errors import BadInput
from incidentflow.identity.signing import plan_digest
from incidentflow.models import EvidenceKind, IncidentRecord, IncidentState
from incidentflow.web.layout import PANEL_VERBS
from incidentflow.web.listing import visibility_query
from incidentflow.web.page import View, incident_page, plan_ref
from incidentflow.web.text import markdown, text

HTML_PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b>"
ANSI_PAYLOAD = "\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 ok\rforged \u202eevil"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Elements and attributes no text of ours may ever produce.
ACTIVE_TAGS = {"script", "img", "iframe", "object", "embed", "style", "b", "base", "i"}


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def demo_record(state: IncidentState = IncidentState.AWAITING_APPROVAL) -> IncidentRecord:
    incident, plan = demo_incident(), demo_plan()
    # As the workflow adopts a plan: numbered and digested.
    plan = plan.model_copy(
        update={"id": f"{incident.id}/plan-1", "digest": plan_digest(plan.action)}
    )
    record = IncidentRecord(
        incident=incident,
        state=state,
        waiting_for="a decision",
        investigation=demo_investigation(),
        plan=plan,
        owner="dana",
    )
    return record.model_copy(update={"postmortem": draft(record, demo().topology)})


def view(**extra: object) -> View:
    values: dict[str, object] = {
        "identity": "alice",
        "verbs": list(PANEL_VERBS),
        "csrf": "csrf-1",
        "temporal_ui": "http://127.0.0.1:8233",
    }
    values.update(extra)
    return View(**values)  # type: ignore[arg-type]


def test_every_agents_section_in_order_with_pictures_and_the_postmortem() -> None:
    record = demo_record()
    page = incident_page(record, view())
    order = ["id='alerts'", "id='detection'", "id='correlation'", "id='investigation'"]
    order += ["id='plan'", "id='decisions'", "id='execution'", "id='timeline'", "id='postmortem'"]
    positions = [page.index(anchor) for anchor in order]
    assert positions == sorted(positions)
    inv = record.investigation
    assert inv is not None and inv.top is not None
    ranked = [page.index(text(h.cause)) for h in inv.hypotheses]
    assert ranked == sorted(ranked) and ranked[0] > page.index("id='investigation'")
    for rejected in inv.rejected:
        assert text(rejected.reason) in page
    # A sparkline per metric evidence that carries points (the investigation now records them).
    metrics = [e for e in inv.evidence if e.kind is EvidenceKind.METRIC]
    drawn = [e for e in metrics if len(e.points) >= 2]
    assert drawn, "the demo investigation's metric evidence carries no points"
    assert page.count('<svg class="spark"') >= len(drawn)
    # The blast radius: one box per service, the origin marked.
    assert page.count('<g class="node origin">') >= 2  # correlation's and the post-mortem's
    for down in record.incident.downstream:
        assert f">{down.service}</text>" in page
    # The post-mortem's Markdown became HTML; its Mermaid flowchart became the SVG.
    assert "<h2>Summary</h2>" in page and "flowchart LR" not in page
    # Plan id and digest, and the Temporal UI link.
    ref = plan_ref(record)
    assert ref.id and ref.digest == plan_digest(record.plan.action if record.plan else None)
    assert f"value='{ref.digest}'" in page and ref.id in page
    assert f"http://127.0.0.1:8233/namespaces/default/workflows/{record.incident.id}" in page


def test_decision_forms_carry_the_plan_and_csrf_and_vanish_without_a_role() -> None:
    record = demo_record()
    forms = [t for t in tags_of(incident_page(record, view())) if t[0] == "form"]
    actions = [str(a.get("action")) for _, a in forms]
    assert f"/ui/incidents/{record.incident.id}/approve" in actions
    assert f"/ui/incidents/{record.incident.id}/reject" in actions
    read_only = incident_page(record, view(verbs=[]))
    assert "Read-only" in read_only and "/approve'" not in read_only
    closed = incident_page(demo_record(IncidentState.CLOSED), view())
    assert "/approve'" not in closed and "has ended" in closed


def hostile_record() -> IncidentRecord:
    """HTML, script and ANSI through an alert, and through every text a model writes."""
    record = demo_record()
    inc = record.incident
    first = inc.alerts[0]
    evil = first.model_copy(
        update={
            "name": "Evil<script>x</script>",
            "labels": {**first.labels, "service": HTML_PAYLOAD},
            "annotations": {**first.annotations, "summary": HTML_PAYLOAD + ANSI_PAYLOAD},
        }
    )
    inv = record.investigation
    assert inv is not None and record.plan is not None and record.postmortem is not None
    top = inv.hypotheses[0].model_copy(update={"cause": HTML_PAYLOAD + ANSI_PAYLOAD})
    ev = inv.evidence[0].model_copy(
        update={"finding": HTML_PAYLOAD, "link": "javascript:alert(3)", "query": ANSI_PAYLOAD}
    )
    md = (
        f"# {HTML_PAYLOAD}\n\n<script>alert(4)</script>\n\n[click](javascript:alert(5))\n\n"
        f"{ANSI_PAYLOAD}\n\n<iframe src=//evil></iframe>\n"
    )
    return record.model_copy(
        update={
            "incident": inc.model_copy(
                update={"alerts": [evil, *inc.alerts[1:]], "title": HTML_PAYLOAD}
            ),
            "investigation": inv.model_copy(
                update={
                    "hypotheses": [top, *inv.hypotheses[1:]],
                    "evidence": [ev, *inv.evidence[1:]],
                    "summary": ANSI_PAYLOAD,
                }
            ),
            "plan": record.plan.model_copy(update={"rationale": HTML_PAYLOAD}),
            "postmortem": record.postmortem.model_copy(update={"markdown": md}),
            "owner": "dana\x1b[8m<i>",
        }
    )


def test_alert_and_model_text_reach_the_page_only_as_escaped_text() -> None:
    page = incident_page(hostile_record(), view())
    assert not RAW_CONTROL.search(page), RAW_CONTROL.findall(page)[:5]
    tags = tags_of(page)
    assert [a.get("href") for t, a in tags if t == "link"] == ["/ui/static/console.css"]
    for tag, attrs in tags:
        assert tag not in ACTIVE_TAGS, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for value in attrs.values():
            assert not (value or "").lower().startswith("javascript:"), (tag, attrs)
    # The payloads are there to read, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\x1b[31mred" in page and "\\u202eevil" in page
    assert "&lt;iframe" in page and "&lt;script&gt;alert(4)" in page


def test_short_strings_from_the_cache_and_long_ones_are_escaped_alike() -> None:
    payload = "<script>alert(1)</script>\x1b[31m\u202e'\"&"
    for raw in (payload, payload * 40):  # cached, then past TEXT_CACHED_MAX
        for _ in range(2):  # the second call of a short one is a cache hit
            out = text(raw)
            assert "<" not in out and "'" not in out and '"' not in out and "\x1b" not in out
            assert out.startswith("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m\\u202e")
    assert len(text(payload * 40)) == 40 * len(text(payload))


def test_markdown_keeps_safe_links_and_drops_script_links() -> None:
    html = markdown("[ok](https://example.com/a) [bad](javascript:alert(1)) [data](data:x)")
    assert 'href="https://example.com/a"' in html
    assert "javascript:" not in html.split("[bad]")[0] and 'href="javascript' not in html
    assert 'href="data:' not in html


def test_list_filters_are_keywords_or_refused() -> None:
    query = visibility_query({"state": "awaiting_approval", "service": "payments"})
    assert "IncidentState = 'awaiting_approval'" in query
    assert "IncidentService = 'payments'" in query
    with pytest.raises(BadInput, match="service filter"):
        visibility_query({"service": "x' OR WorkflowType = 'AlertStreamWorkflow"})


def test_every_plan_version_is_shown_newest_first() -> None:
    record = demo_record()
    current = record.plan
    assert current is not None
    first = current.model_copy(
        update={"id": f"{record.incident.id}/plan-1", "rationale": "before <b>the join</b>"}
    )
    second = current.model_copy(
        update={"id": f"{record.incident.id}/plan-2", "reason": "an alert joined"}
    )
    record = record.model_copy(update={"plan": second, "plans": [first, second]})
    page = incident_page(record, view())
    assert "Current plan <code>" in page and "Earlier versions" in page
    assert page.index(f"{record.incident.id}/plan-2") < page.index(f"{record.incident.id}/plan-1")
    assert "before &lt;b&gt;the join&lt;/b&gt;" in page  # escaped like everything else
    # One version only: no "earlier" heading.
    single = incident_page(record.model_copy(update={"plans": [second]}), view())
    assert "Earlier versions" not in single
