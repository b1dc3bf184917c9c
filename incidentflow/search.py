"""Our custom search attributes: what the Temporal UI and `incidentflow incidents` filter on.

Imported by workflow code, so it holds constants only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STATE_KEY = SearchAttributeKey.for_keyword("IncidentState")
SEVERITY_KEY = SearchAttributeKey.for_keyword("IncidentSeverity")
SERVICE_KEY = SearchAttributeKey.for_keyword("IncidentService")
# Who owns the incident (`assign`); UNASSIGNED until someone is assigned.
OWNER_KEY = SearchAttributeKey.for_keyword("IncidentOwner")
UNASSIGNED = "unassigned"

# name -> type, as `temporal server start-dev --search-attribute` and the operator API want them.
SEARCH_ATTRIBUTES: dict[str, str] = {
    STATE_KEY.name: "Keyword",
    SEVERITY_KEY.name: "Keyword",
    SERVICE_KEY.name: "Keyword",
    OWNER_KEY.name: "Keyword",
}
