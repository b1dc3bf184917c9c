"""What the agent activities read from: the service graph and the evidence sources.

Built once per worker process from Settings; no network is touched here, only files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from incidentflow.errors import ConfigError
from incidentflow.evidence import EvidenceSource
from incidentflow.models import Service, ServiceGraph
from incidentflow.scenario import BundleEvidenceSource, demo_scenario_path, load_scenario
from incidentflow.settings import Settings


@dataclass(frozen=True)
class AgentContext:
    graph: ServiceGraph
    evidence: EvidenceSource


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
    bundle = settings.evidence_bundle or demo_scenario_path()
    if not bundle.is_dir():
        raise ConfigError(f"INCIDENTFLOW_EVIDENCE_BUNDLE={bundle} is not a scenario directory")
    scenario = load_scenario(bundle)
    graph = load_catalog(settings.catalog_path) if settings.catalog_path else scenario.topology
    return AgentContext(graph=graph, evidence=BundleEvidenceSource(scenario))
