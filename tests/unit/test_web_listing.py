"""The incident list's owner column and filter (issue 20 item 2), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidentflow.errors import BadInput
from incidentflow.web.listing import Row, list_page, visibility_query


def test_owner_filter_is_a_keyword_clause_and_quotes_are_refused() -> None:
    query = visibility_query({"owner": "erin@example.org", "state": "awaiting_approval"})
    assert "IncidentOwner = 'erin@example.org'" in query
    assert "IncidentState = 'awaiting_approval'" in query
    assert "IncidentOwner" not in visibility_query({"owner": "  "})
    with pytest.raises(BadInput, match="owner filter"):
        visibility_query({"owner": "x' OR WorkflowType = 'AlertStreamWorkflow"})


def test_the_list_shows_each_owner_and_keeps_the_filter() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        Row("inc-1", "a", "critical", "awaiting_approval", "payments", started, owner="erin"),
        Row("inc-2", "b", "warning", "open", "checkout", started, owner="unassigned"),
    ]
    page = list_page(rows, {"owner": "erin"}, identity="dana", csrf="t")
    heads = page.split("<thead>")[1].split("</thead>")[0]
    assert heads.index(">service<") < heads.index(">owner<") < heads.index(">age<")
    assert "<td>erin</td>" in page and "<td>unassigned</td>" in page
    assert "id='filter-owner' name='owner' value='erin'" in page
