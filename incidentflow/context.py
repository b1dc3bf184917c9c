"""What the agent activities read from: the service graph and the evidence sources.

Built once per worker process from Settings; no network is touched here, only files.
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
from incidentflow.scenario import BundleEvidenceSource, demo_scenario_path, load_scenario
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
    """The graph and evidence sources the settings enable (the bundled demo by default)."""
    live = evidence_sources(settings)
    bundle = settings.evidence_bundle or (None if live else demo_scenario_path())
    if bundle is not None and not bundle.is_dir():
        raise ConfigError(f"INCIDENTFLOW_EVIDENCE_BUNDLE={bundle} is not a scenario directory")
    scenario = load_scenario(bundle) if bundle is not None else None
    members = [BundleEvidenceSource(scenario)] if scenario is not None else []
    evidence: EvidenceSource = (
        members[0] if not live and members else CompositeSource([*members, *live])
    )
    if settings.catalog_path:
        graph = load_catalog(settings.catalog_path)
    else:
        graph = (scenario or load_scenario(demo_scenario_path())).topology
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
    )
