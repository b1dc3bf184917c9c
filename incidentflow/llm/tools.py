"""Read-only evidence tools an investigation's model may call, each call becoming evidence.

Seven tools, each about one service of the graph within the incident's window: list_changes,
query_metrics (robust anomaly scores against the series' own history), search_logs (template
shifts against the baseline rate), query_traces (own time, wire time and calls cut short,
without span status), rank_services (the rules engine's propagation ranking: each ranked
service's share of the walk, own anomaly, why, and the evidence it rests on), read_topology,
read_runbook. They reuse the rules engine's finding builders, so an item reads the same
whichever engine found it. A call returns
evidence items (id, kind, finding, attributes) as redacted JSON within the step's share of
the context budget; a call that names an unknown tool or service runs nothing and is refused.
Every call is an OpenTelemetry span and heartbeats the activity.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Tracer
from temporalio import activity

from incidentflow.agents.investigation import (
    InvestigationConfig,
    investigate,
    own_series,
    settle_cut,
)
from incidentflow.agents.investigation.gather import host_findings
from incidentflow.agents.investigation.signals import (
    Window,
    change_finding,
    log_findings,
    metric_finding,
)
from incidentflow.agents.investigation.traces import analyse, shift_evidence
from incidentflow.evidence import EvidenceSource, RunbookSource, SpanSource
from incidentflow.llm.budget import dumps, fit
from incidentflow.llm.client import TRACER_NAME, ToolCall
from incidentflow.llm.guard import plain
from incidentflow.llm.redact import Redactor
from incidentflow.models import (
    Evidence,
    EvidenceKind,
    Incident,
    InvestigationInput,
    ServiceGraph,
)

MAX_FINDING_CHARS = 600
MAX_ITEMS_PER_CALL = 8
_TOOLS = {
    "list_changes": "Deploys, config and flag changes to a service before the first alert.",
    "query_metrics": "A service's metric series: baseline vs incident, change points.",
    "search_logs": "A service's warning/error log templates that are new since the onset.",
    "query_traces": "A service's trace shifts since the onset: own time, wire time, calls.",
    "rank_services": "The propagation ranking of all services (the service argument is "
    "where to start reading; the ranking covers every candidate): share of the walk, own "
    "anomaly, why, cited evidence.",
    "read_topology": "A service's owner, tier, dependencies and dependents.",
    "read_runbook": "Runbooks for the incident's alerts and a service.",
}


class EvidenceTools:
    """The toolbox of one investigation; `evidence` holds every item its calls produced."""

    def __init__(
        self,
        *,
        incident: Incident,
        graph: ServiceGraph,
        source: EvidenceSource,
        window: Window,
        config: InvestigationConfig,
        redactor: Redactor,
        services: set[str] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._incident = incident
        self._graph = graph
        self._source = source
        self._window = window
        self._config = config
        self._redactor = redactor
        known = {s.name for s in graph.services}
        # The services a call may name: the incident's reach, so the tool list stays small.
        self._services = sorted((services or known) & known)
        self._tracer = tracer or trace.get_tracer(TRACER_NAME)
        self.evidence: dict[str, Evidence] = {}
        self.calls = 0

    def specs(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function definitions; each takes one service name."""
        names = self._services
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": text,
                    "parameters": {
                        "type": "object",
                        "properties": {"service": {"type": "string", "enum": names}},
                        "required": ["service"],
                        "additionalProperties": False,
                    },
                },
            }
            for name, text in _TOOLS.items()
        ]

    async def run(self, call: ToolCall, *, max_chars: int) -> str:
        """Run one call; its items join `evidence` and come back as redacted JSON."""
        service = _service_arg(call.arguments)
        if call.name not in _TOOLS:
            return f"refused: unknown tool {call.name!r}; tools: {', '.join(_TOOLS)}"
        if service not in self._services:
            return (
                f"refused: {call.name} needs a `service` among {', '.join(self._services)}, "
                f"not {service!r}"
            )
        self.calls += 1
        if activity.in_activity():
            activity.heartbeat(f"llm tool {call.name}({service})")
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "incidentflow.agent": "investigation",
            "incidentflow.incident_id": self._incident.id,
            "incidentflow.service": service,
        }
        with self._tracer.start_as_current_span(
            f"execute_tool {call.name}", attributes=attributes
        ) as span:
            items = await asyncio.to_thread(self._items, call.name, service)
            items = [_bounded(i, call=f"{self.calls}:{call.name}") for i in items]
            for item in items:
                self.evidence[item.id] = item
            span.set_attribute("incidentflow.evidence_ids", [i.id for i in items])
        view = [
            {
                "id": i.id,
                "kind": i.kind.value,
                "service": i.service,
                "finding": i.finding,
                "attributes": i.attributes,
            }
            for i in items
        ]
        data, notes = fit({"evidence": view}, max(100, max_chars // 4))
        if notes:
            data["cut"] = notes
        return self._redactor.redact(dumps(data))

    def _items(self, tool: str, service: str) -> list[Evidence]:
        w, src = self._window, self._source
        if tool == "list_changes":
            start = w.onset - self._config.change_lookback
            found = src.changes(services=[service], start=start, end=w.onset)
            items = [change_finding(c, w, src.name).evidence for c in found[-MAX_ITEMS_PER_CALL:]]
        elif tool == "query_metrics":
            every = src.metrics(services=[service], start=w.start, end=w.end)
            series = own_series(every)
            cut = settle_cut(w, series)
            metrics = [f for s in series if (f := metric_finding(s, cut, src.name)) is not None]
            # Most anomalous first: the budget keeps what moved.
            metrics.sort(key=lambda f: (-abs(f.z) if f.jumped else 0.0, f.evidence.id))
            # Its host's series that moved come last, as the host's (service: none).
            hosts = [h.evidence for h in host_findings(every, cut, src.name)]
            items = [*(f.evidence for f in metrics), *hosts][:MAX_ITEMS_PER_CALL]
        elif tool == "query_traces":
            items = self._traces(service)
        elif tool == "rank_services":
            items = self._ranking()
        elif tool == "search_logs":
            lines = src.logs(services=[service], start=w.start, end=w.end)
            found_logs = log_findings(
                service, lines, self._graph.dependencies(service), w, src.name
            )
            items = [f.evidence for f in found_logs]
            if not items and lines:
                items = [self._recent_lines(service, [r.message for r in lines[-3:]], len(lines))]
        elif tool == "read_topology":
            items = [self._topology(service)]
        else:
            items = self._runbooks(service)
        return items or [self._nothing(tool, service)]

    def _traces(self, service: str) -> list[Evidence]:
        if not isinstance(self._source, SpanSource):
            return []
        w = self._window
        spans = self._source.spans(services=[service], start=w.start, end=w.end)
        series = own_series(self._source.metrics(services=[service], start=w.start, end=w.end))
        cut = settle_cut(w, series).cut
        shifts = analyse(spans, cut)
        found = [
            *shifts.own_time.values(),
            *shifts.wire.get(service, []),
            *shifts.calls.values(),
        ]
        return [
            shift_evidence(s, start=cut, end=w.end, source=self._source.name)
            for s in found
            if s.service == service or s.kind == "wire"
        ][:MAX_ITEMS_PER_CALL]

    def _ranking(self) -> list[Evidence]:
        """The rules engine's ranking as items, plus the evidence its top answers cite."""
        inv = investigate(
            InvestigationInput(incident=self._incident), self._graph, self._source, self._config
        )
        cited = {e.id: e for e in inv.evidence}
        items: list[Evidence] = []
        for n, h in enumerate(inv.hypotheses, 1):
            items.append(
                self._item(
                    f"ev-rank-{h.service}",
                    EvidenceKind.TOPOLOGY,
                    h.service,
                    "personalized PageRank over the dependency graph, personalized by anomaly",
                    f"rank {n}: {h.service} ({h.fault_type.value}), share of the walk "
                    f"{h.rank_share or 0:.0%}, own anomaly {h.anomaly or 0:.2f}: {h.why}",
                    {
                        "rank": str(n),
                        "rank_share": f"{h.rank_share or 0:.4f}",
                        "anomaly": f"{h.anomaly or 0:.4f}",
                        "fault_type": h.fault_type.value,
                        "path": " -> ".join(h.path),
                        "evidence_ids": ",".join(h.evidence_ids[:6]),
                    },
                )
            )
            items += [cited[i] for i in h.evidence_ids[:2] if i in cited and n <= 2]
        return items[: 2 * MAX_ITEMS_PER_CALL]

    def _topology(self, service: str) -> Evidence:
        svc = self._graph.get(service)
        deps, callers = self._graph.dependencies(service), self._graph.dependents(service)
        return self._item(
            f"ev-topology-{service}",
            EvidenceKind.TOPOLOGY,
            service,
            f'service("{service}")',
            f"{service} (owner {svc.owner if svc else '?'}, tier {svc.tier if svc else '?'}) "
            f"calls {', '.join(deps) or 'nothing'}; called by {', '.join(callers) or 'nobody'}",
            {"depends_on": ",".join(deps), "dependents": ",".join(callers)},
            link=svc.runbook if svc else None,
        )

    def _runbooks(self, service: str) -> list[Evidence]:
        if not isinstance(self._source, RunbookSource):
            return []
        names = sorted({a.name for a in self._incident.alerts})
        books = self._source.runbooks(alertnames=names, services=[service])
        return [
            self._item(
                f"ev-runbook-{b.id}",
                EvidenceKind.RUNBOOK,
                service if service in b.services else None,
                f"runbooks matching alerts {sorted(set(b.alerts))} services {b.services}",
                f"runbook {b.title!r}: {b.body.strip()[:400]}",
                {"alerts": ",".join(b.alerts), "services": ",".join(b.services)},
                link=b.link,
            )
            for b in books[:2]
        ]

    def _recent_lines(self, service: str, messages: list[str], total: int) -> Evidence:
        sample = " | ".join(repr(m[:160]) for m in messages)
        return self._item(
            f"ev-logs-{service}-recent",
            EvidenceKind.LOG,
            service,
            f'{{service="{service}"}} | level=~"warning|error|fatal"',
            f"{total} warning/error lines, no template new since the onset; latest: {sample}",
            {"count": str(total)},
        )

    def _nothing(self, tool: str, service: str) -> Evidence:
        kind = {
            "list_changes": EvidenceKind.CHANGE,
            "query_metrics": EvidenceKind.METRIC,
            "search_logs": EvidenceKind.LOG,
            "read_runbook": EvidenceKind.RUNBOOK,
        }.get(tool, EvidenceKind.TOPOLOGY)
        return self._item(
            f"ev-{tool.replace('_', '-')}-{service}-none",
            kind,
            service,
            f'{tool}(service="{service}")',
            f"{tool} found nothing for {service} in the incident window",
            {},
        )

    def _item(
        self,
        id_: str,
        kind: EvidenceKind,
        service: str | None,
        query: str,
        finding: str,
        attributes: dict[str, str],
        link: str | None = None,
    ) -> Evidence:
        return Evidence(
            id=id_,
            kind=kind,
            source=self._source.name,
            service=service,
            query=query,
            start=self._window.start,
            end=self._window.end,
            finding=finding,
            link=link,
            weight=0.0,
            attributes=attributes,
        )


def _bounded(item: Evidence, *, call: str) -> Evidence:
    return item.model_copy(
        update={
            "finding": plain(item.finding, MAX_FINDING_CHARS),
            "attributes": {**item.attributes, "tool_call": call},
        }
    )


def _service_arg(arguments: str) -> str | None:
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return None
    value = args.get("service") if isinstance(args, dict) else None
    return value if isinstance(value, str) else None
