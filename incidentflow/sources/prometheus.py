"""Prometheus HTTP API as an evidence source: range queries from PromQL templates per signal.

Templates are PromQL with `{service}` where the service name goes, one per signal name (the
name decides how investigation reads the series: errors, latency, saturation, traffic, up).
Nothing is contacted until the agent asks; the client does not retry (Temporal owns retries).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from incidentflow.errors import ConfigError, EvidenceUnavailable
from incidentflow.evidence import MetricPoint, MetricSeries
from incidentflow.sources.files import utc
from incidentflow.sources.live import LiveSource
from incidentflow.sources.placeholders import check, fill
from incidentflow.telemetry import evidence_span

DEFAULT_QUERIES: dict[str, str] = {
    "http_error_ratio": (
        'sum(rate(http_requests_total{service="{service}",code=~"5.."}[1m])) / '
        'sum(rate(http_requests_total{service="{service}"}[1m]))'
    ),
    "http_latency_p99_seconds": (
        "histogram_quantile(0.99, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{service="{service}"}[1m])))'
    ),
    "cpu_usage_ratio": 'avg(rate(process_cpu_seconds_total{service="{service}"}[1m]))',
}
# Points per range query: enough resolution for a change point, small enough for the budget.
POINTS_PER_QUERY = 240
HTTP_TIMEOUT_S = 10.0


def api_result(
    http: httpx.Client, url: str, params: dict[str, str], *, span: str, rejected: str
) -> list[dict[str, Any]]:
    """One Prometheus HTTP API read: its `data.result`. A query Prometheus rejects (400) is a
    ConfigError starting with `rejected`; anything else that fails is EvidenceUnavailable."""
    where = url.split("/api/", 1)[0]
    try:
        with evidence_span(span, params["query"]):
            resp = http.get(url, params=params)
    except httpx.HTTPError as err:
        raise EvidenceUnavailable(f"Prometheus at {where} did not answer: {err}") from err
    if resp.status_code == 400:
        raise ConfigError(f"{rejected}: {resp.text[:200]}")
    if resp.status_code >= 300:
        raise EvidenceUnavailable(f"Prometheus at {where} answered {resp.status_code}")
    try:
        result = resp.json().get("data", {}).get("result", [])
    except ValueError as err:
        raise EvidenceUnavailable(f"Prometheus at {where} sent no JSON") from err
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


class PrometheusSource(LiveSource):
    """Metric series from a Prometheus server; no changes or logs."""

    def __init__(
        self,
        base_url: str,
        *,
        queries: dict[str, str] | None = None,
        name: str = "prometheus",
        setting: str = "INCIDENTFLOW_PROMETHEUS_QUERIES",
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"INCIDENTFLOW_PROMETHEUS_URL={base_url!r} must be an http(s) URL")
        self._base = base_url.rstrip("/")
        self._queries = queries or DEFAULT_QUERIES
        # Checked now, so a bad template stops the worker at start, naming its setting.
        for signal, template in self._queries.items():
            check(template, setting=f"{setting} ({signal})")
        self._name = name

    def link(self, query: str, start: datetime, end: datetime) -> str:
        """The Prometheus graph page for `query` over the window: what a person opens."""
        span = max(int((end - start).total_seconds()), 1)
        params = {
            "g0.expr": query,
            "g0.tab": "0",
            "g0.range_input": f"{span}s",
            "g0.end_input": utc(end).strftime("%Y-%m-%d %H:%M:%S"),
        }
        return f"{self._base}/graph?{urlencode(params)}"

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """One range query per service and signal; series with no data are left out."""
        step = max((end - start) / POINTS_PER_QUERY, timedelta(seconds=1))
        out: list[MetricSeries] = []
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
            for service in services:
                for signal, template in self._queries.items():
                    query = fill(template, service=service)
                    points = self._range(http, query, start, end, step)
                    if not points:
                        continue
                    out.append(
                        MetricSeries(
                            id=f"{service}_{signal}",
                            name=signal,
                            service=service,
                            labels={"service": service},
                            unit="ratio" if signal.endswith("ratio") else "",
                            query=query,
                            points=points,
                            link=self.link(query, start, end),
                        )
                    )
        return out

    def _range(
        self, http: httpx.Client, query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[MetricPoint]:
        params = {
            "query": query,
            "start": f"{utc(start).timestamp():.3f}",
            "end": f"{utc(end).timestamp():.3f}",
            "step": f"{step.total_seconds():.3f}",  # float seconds; "3.5s" is not a duration
        }
        result = api_result(
            http,
            f"{self._base}/api/v1/query_range",
            params,
            span=self._name,
            rejected=f"Prometheus rejected the query {query!r}",
        )
        if not result:
            return []
        # A template is written to return one series; if it returns more, the first is read.
        values = result[0].get("values", [])
        return [
            MetricPoint(at=datetime.fromtimestamp(float(t), tz=start.tzinfo), value=float(v))
            for t, v in values
            if v not in ("NaN", "+Inf", "-Inf")
        ]
