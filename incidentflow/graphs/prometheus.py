"""Edges from service-graph metrics in Prometheus: one instant query per configured series.

The defaults read the two series most shops already have: Tempo's (and the OpenTelemetry
Collector's servicegraph connector's) `traces_service_graph_request_total{client, server}`
and Istio's `istio_requests_total{source_workload, destination_workload}`. Each query is
PromQL that returns one series per edge, with the caller and callee in the two named labels;
a shop with other series sets INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES. Queries are checked when
the worker starts; Prometheus is contacted only when the graph book refreshes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field

from incidentflow.errors import ConfigError
from incidentflow.graphs.edges import Edge, EdgeOrigin, clean
from incidentflow.sources.prometheus import api_result

SETTING = "INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES"
# One refresh must never hold correlation up for long: Prometheus answers these in
# milliseconds when it is well, so a slow answer is treated as down.
HTTP_TIMEOUT_S = 5.0


class GraphQuery(BaseModel):
    """A PromQL query whose series are edges: `caller` and `callee` name the two labels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str
    caller: str = Field(description="Label holding the calling service")
    callee: str = Field(description="Label holding the called service")


DEFAULT_GRAPH_QUERIES: tuple[GraphQuery, ...] = (
    GraphQuery(
        query="sum by (client, server) (rate(traces_service_graph_request_total[1h])) > 0",
        caller="client",
        callee="server",
    ),
    GraphQuery(
        query='sum by (source_workload, destination_workload) (rate(istio_requests_total{reporter="source"}[1h])) > 0',  # noqa: E501
        caller="source_workload",
        callee="destination_workload",
    ),
)

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
_BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def check_query(q: GraphQuery, *, setting: str = SETTING) -> None:
    """Raise a one-line ConfigError naming `setting` when the query cannot give edges."""
    for role, label in (("caller", q.caller), ("callee", q.callee)):
        if not _LABEL.match(label):
            raise ConfigError(f"{setting}: {role} {label!r} is not a Prometheus label name")
    if q.caller == q.callee:
        raise ConfigError(f"{setting}: caller and callee are both {q.caller!r}")
    bare = _QUOTED.sub('""', q.query)
    if not bare.strip():
        raise ConfigError(f"{setting}: an empty query")
    if re.search(r"\{[A-Za-z_]\w*\}", bare):
        raise ConfigError(
            f"{setting}: {q.query!r} has a {{placeholder}}; graph queries take none "
            "(they ask for every edge at once)"
        )
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ConfigError(f"{setting}: unbalanced brackets in {q.query!r}")
    for grouping in _BY.finditer(bare):
        kept = {x.strip() for x in grouping.group(1).split(",")}
        keeps = grouping.group(0).startswith("by")
        lost = [x for x in (q.caller, q.callee) if (x not in kept) == keeps]
        if lost:
            raise ConfigError(
                f"{setting}: {q.query!r} aggregates {lost[0]!r} away, so no edge can be read"
            )


class PrometheusEdgeLearner:
    """Edges from service-graph series in a Prometheus server; the client does not retry."""

    def __init__(
        self, base_url: str, queries: Sequence[GraphQuery], *, ignore: Sequence[str] = ()
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"INCIDENTFLOW_PROMETHEUS_URL={base_url!r} must be an http(s) URL")
        for q in queries:
            check_query(q)
        self._base = base_url.rstrip("/")
        self._queries = tuple(queries)
        self._ignore = tuple(ignore)

    @property
    def name(self) -> str:
        return f"prometheus {self._base}"

    @property
    def origin(self) -> EdgeOrigin:
        return EdgeOrigin.PROMETHEUS

    def learn(self, *, known: Sequence[str], now: datetime) -> set[Edge]:
        """Every edge any query returns at `now`; a query with no series adds nothing."""
        found: set[Edge] = set()
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
            for q in self._queries:
                for labels in self._instant(http, q.query, now):
                    found.add((labels.get(q.caller, ""), labels.get(q.callee, "")))
        return clean(found, self._ignore)

    def _instant(self, http: httpx.Client, query: str, now: datetime) -> list[dict[str, str]]:
        params = {"query": query, "time": f"{now.timestamp():.3f}"}
        result = api_result(
            http,
            f"{self._base}/api/v1/query",
            params,
            span="prometheus-graph",
            rejected=f"{SETTING}: Prometheus rejected {query!r}",
        )
        return [m for r in result if isinstance(m := r.get("metric", {}), dict)]
