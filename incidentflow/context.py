"""What the agent activities read from: the service graph and the evidence sources.

Built once per worker process from Settings; no network is touched here, only files. Evidence
is the user's or none: a scenario bundle answers only when INCIDENTFLOW_EVIDENCE_BUNDLE names
one (`demo` and `eval` do so explicitly). The graph is the user's: their catalog (or that
bundle's topology), merged with what is learned from their system (service-graph metrics in
their Prometheus, spans of a source that has traces, alert labels naming a peer), or empty;
never a bundled demo's behind the user's back (issue 13). Activities read it at activity time
through `graph_for`, so workflow code never sees I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from incidentflow.agents.investigation import InvestigationConfig
from incidentflow.agents.rules import Rules, load_rules
from incidentflow.errors import ConfigError
from incidentflow.evidence import EvidenceSource, SpanSource
from incidentflow.graphs.book import GraphBook, GraphPlan
from incidentflow.graphs.edges import EdgeLearner
from incidentflow.graphs.labels import PeerLabels
from incidentflow.graphs.prometheus import GraphQuery, PrometheusEdgeLearner
from incidentflow.graphs.spans import SpanEdgeLearner, trailing
from incidentflow.llm import build_engine
from incidentflow.llm.engine import LlmEngine
from incidentflow.models import Alert, Service, ServiceGraph
from incidentflow.scenario import load_scenario
from incidentflow.settings import Settings
from incidentflow.sources.build import CompositeSource, evidence_sources
from incidentflow.sources.bundle import BundleEvidenceSource


@dataclass(frozen=True)
class AgentContext:
    graph: ServiceGraph
    evidence: EvidenceSource
    rules: Rules = field(default_factory=Rules)
    investigation: InvestigationConfig = field(default_factory=InvestigationConfig)
    # The model behind the agents INCIDENTFLOW_LLM_AGENTS enables; None = rules only.
    llm: LlmEngine | None = None
    # Each configured source on its own, so one that is down can be left out (sources.guarded).
    sources: tuple[EvidenceSource, ...] = ()
    # Where the declared graph came from, in words, for `up` and the worker's start-up block.
    graph_origin: str = "empty"
    # The declared graph merged with learned edges, refreshed on a schedule; None = `graph`.
    graphs: GraphBook | None = None

    def __post_init__(self) -> None:
        if self.graphs is None:
            declared = self.graph_origin if self.graph.services else None
            book = GraphBook(GraphPlan(declared=self.graph, declared_origin=declared))
            object.__setattr__(self, "graphs", book)

    @property
    def book(self) -> GraphBook:
        """The graph book (always set after construction)."""
        if self.graphs is None:  # never: __post_init__ sets it
            raise ConfigError("the agents' context has no service graph")
        return self.graphs

    async def graph_for(self, alerts: Sequence[Alert] = ()) -> ServiceGraph:
        """The graph an activity handling `alerts` reasons over: declared + learned, now."""
        return await self.book.graph(alerts)

    def graph_line(self) -> str:
        """Which graph is in use and what it was learned from, for `up` and the worker log."""
        return self.book.describe()


def load_catalog(path: Path) -> ServiceGraph:
    """Read a service graph YAML (`services: [{name, owner, depends_on, ...}]`)."""
    try:
        data = yaml.safe_load(path.read_text())
        return ServiceGraph(services=[Service.model_validate(s) for s in data["services"]])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"INCIDENTFLOW_CATALOG_PATH={path} is not a readable service catalog: {err}"
        ) from err


def build_context(settings: Settings) -> AgentContext:
    """The graph and evidence sources the settings enable; none when none are configured."""
    live = evidence_sources(settings.sources)
    bundle = settings.sources.evidence_bundle
    if bundle is not None and not bundle.is_dir():
        raise ConfigError(f"INCIDENTFLOW_EVIDENCE_BUNDLE={bundle} is not a scenario directory")
    scenario = load_scenario(bundle) if bundle is not None else None
    members: list[EvidenceSource] = [BundleEvidenceSource(scenario)] if scenario else []
    members += live
    evidence: EvidenceSource = members[0] if len(members) == 1 else CompositeSource(members)
    if settings.graph.catalog_path:
        graph = load_catalog(settings.graph.catalog_path)
        origin = f"catalog {settings.graph.catalog_path}"
    elif scenario is not None:
        graph, origin = scenario.topology, f"bundle {bundle} (its topology)"
    else:
        graph = ServiceGraph(services=[])
        origin = "empty: no INCIDENTFLOW_CATALOG_PATH; services are known from alert labels only"
    book = GraphBook(graph_plan(settings, graph, origin if graph.services else None, members))
    window = InvestigationConfig(
        baseline=timedelta(seconds=settings.agents.investigation_baseline_seconds),
        pre_onset=timedelta(seconds=settings.agents.investigation_pre_onset_seconds),
    )
    return AgentContext(
        graph=graph,
        evidence=evidence,
        rules=load_rules(settings.agents.rules_path),
        investigation=window,
        llm=build_engine(settings.llm),
        sources=tuple(members),
        graph_origin=origin,
        graphs=book,
    )


def graph_plan(
    settings: Settings,
    declared: ServiceGraph,
    origin: str | None,
    sources: Sequence[EvidenceSource],
) -> GraphPlan:
    """What the graph is learned from (INCIDENTFLOW_GRAPH_LEARN); queries are checked here."""
    learn = {x.strip() for x in settings.graph.graph_learn if x.strip()}
    unknown = sorted(learn - {"prometheus", "spans", "alert_labels"})
    if unknown:
        raise ConfigError(
            f"INCIDENTFLOW_GRAPH_LEARN: unknown {unknown[0]!r}; use prometheus, spans, alert_labels"
        )
    ignore = tuple(settings.graph.graph_ignore_services)
    learners: list[EdgeLearner] = []
    if (
        "prometheus" in learn
        and settings.sources.prometheus.prometheus_url
        and settings.graph.graph_prometheus_queries
    ):
        try:
            queries = [
                GraphQuery.model_validate(q) for q in settings.graph.graph_prometheus_queries
            ]
        except ValueError as err:
            first = str(err).splitlines()[0]
            raise ConfigError(
                "INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES: each entry needs query, caller and "
                f"callee ({first})"
            ) from err
        learners.append(
            PrometheusEdgeLearner(
                settings.sources.prometheus.prometheus_url, queries, ignore=ignore
            )
        )
    if "spans" in learn:
        lookback = timedelta(seconds=settings.graph.graph_window_seconds)
        for source in sources:
            if not isinstance(source, SpanSource):
                continue
            window = trailing(lookback)
            if isinstance(source, BundleEvidenceSource) and source.scenario.spans:
                # A recorded bundle's traces lie at its recording time, not in the last hour.
                recorded = source.scenario.spans
                window = _fixed(min(s.start for s in recorded), max(s.end for s in recorded))
            learners.append(SpanEdgeLearner(source, name=source.name, window=window))
    labels = None
    if "alert_labels" in learn:
        labels = PeerLabels(
            callee=tuple(settings.graph.graph_callee_labels),
            caller=tuple(settings.graph.graph_caller_labels),
            ignore=ignore,
        )
    return GraphPlan(
        declared=declared,
        declared_origin=origin,
        learners=learners,
        labels=labels,
        refresh=timedelta(seconds=settings.graph.graph_refresh_seconds),
        label_ttl=timedelta(seconds=settings.graph.graph_label_ttl_seconds),
    )


def _fixed(lo: datetime, hi: datetime) -> Callable[[datetime], tuple[datetime, datetime]]:
    return lambda now: (lo, hi)
