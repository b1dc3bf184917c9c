"""What the agent activities read from: the service graph and the evidence sources.

Built once per worker process from Settings; no network is touched here, only files. Evidence
is the user's or none: a scenario bundle answers only when INCIDENTFLOW_EVIDENCE_BUNDLE names
one (`demo` and `eval` do so explicitly), and the graph is the user's catalog, that bundle's
topology, or empty; never a bundled demo's behind the user's back (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from incidentflow.agents.investigation import InvestigationConfig
from incidentflow.agents.rules import Rules, load_rules
from incidentflow.errors import ConfigError
from incidentflow.evidence import EvidenceSource
from incidentflow.llm import build_engine
from incidentflow.llm.engine import LlmEngine
from incidentflow.models import Service, ServiceGraph
from incidentflow.scenario import BundleEvidenceSource, load_scenario
from incidentflow.settings import Settings
from incidentflow.sources.build import CompositeSource, evidence_sources


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
    # Where the graph came from, in words, for `up` and the worker's start-up block.
    graph_origin: str = "empty"


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
    live = evidence_sources(settings)
    bundle = settings.evidence_bundle
    if bundle is not None and not bundle.is_dir():
        raise ConfigError(f"INCIDENTFLOW_EVIDENCE_BUNDLE={bundle} is not a scenario directory")
    scenario = load_scenario(bundle) if bundle is not None else None
    members: list[EvidenceSource] = [BundleEvidenceSource(scenario)] if scenario else []
    members += live
    evidence: EvidenceSource = members[0] if len(members) == 1 else CompositeSource(members)
    if settings.catalog_path:
        graph = load_catalog(settings.catalog_path)
        origin = f"catalog {settings.catalog_path}"
    elif scenario is not None:
        graph, origin = scenario.topology, f"bundle {bundle} (its topology)"
    else:
        graph = ServiceGraph(services=[])
        origin = "empty: no INCIDENTFLOW_CATALOG_PATH; services are known from alert labels only"
    window = InvestigationConfig(
        baseline=timedelta(seconds=settings.investigation_baseline_seconds),
        pre_onset=timedelta(seconds=settings.investigation_pre_onset_seconds),
    )
    return AgentContext(
        graph=graph,
        evidence=evidence,
        rules=load_rules(settings.rules_path),
        investigation=window,
        llm=build_engine(settings),
        sources=tuple(members),
        graph_origin=origin,
    )
