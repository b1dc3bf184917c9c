"""Investigation's artifacts: evidence with provenance, hypotheses ranked and rejected."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from incidentflow.models.base import Artifact, Engine
from incidentflow.models.incident import Incident
from incidentflow.models.llm import LlmUsage


class EvidenceKind(StrEnum):
    CHANGE = "change"
    LOG = "log"
    METRIC = "metric"
    TRACE = "trace"
    TOPOLOGY = "topology"
    ALERT = "alert"
    RUNBOOK = "runbook"
    CAPACITY = "capacity"  # a Deployment's replicas, requests/limits, HPA and pods
    NODE = "node"  # a node's conditions and cordon


class FaultType(StrEnum):
    BAD_DEPLOY = "bad_deploy"
    CONFIG_CHANGE = "config_change"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    DEPENDENCY_DOWN = "dependency_down"
    NETWORK = "network"
    CODE_EXCEPTION = "code_exception"
    TRAFFIC_SURGE = "traffic_surge"
    EXPIRY = "expiry"
    UNKNOWN = "unknown"


class Evidence(Artifact):
    """One cited fact: where it came from, how to look at it again, what it shows."""

    id: str = Field(description="Stable id hypotheses cite, e.g. ev-change-1")
    kind: EvidenceKind
    source: str = Field(description="Evidence source that produced it")
    service: str | None
    query: str
    start: datetime
    end: datetime
    finding: str
    link: str | None = None
    weight: float = Field(ge=0.0, le=1.0, description="How strongly it implicates the service")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Structured facts, e.g. a change's before/after version"
    )
    points: list[float] = Field(
        default_factory=list,
        max_length=64,
        description="A metric's values over the window, evenly thinned (the page's sparkline)",
    )
    points_cut: int | None = Field(
        default=None, ge=0, description="Index in `points` where the incident window begins"
    )


class Hypothesis(Artifact):
    cause: str
    service: str
    fault_type: FaultType
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_ids: list[str]
    contradicting_ids: list[str] = Field(default_factory=list)
    change_id: str | None = Field(default=None, description="The change it blames, if any")
    why: str = Field(default="", description="One line: why it ranks where it does")
    anomaly: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Its own evidence, all modalities combined"
    )
    rank_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Its share of the propagation walk's mass"
    )
    path: list[str] = Field(
        default_factory=list, description="Alerting service -> ... -> it, along dependencies"
    )


class RejectedHypothesis(Artifact):
    cause: str
    service: str
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)


class SourceState(StrEnum):
    """How one evidence source answered an investigation."""

    OK = "ok"  # answered with data for the incident's services
    NO_DATA = "no_data"  # answered, but held nothing for them
    ERROR = "error"  # did not answer (down, timeout, garbage): left out, the others still count


class SourceReport(Artifact):
    """One evidence source's part in an investigation."""

    name: str
    state: SourceState
    reason: str = Field(default="", description="Why it is `error`, or what it lacked")
    items: int = Field(default=0, ge=0, description="Records it returned")


class InvestigationStatus(StrEnum):
    """How much evidence stands behind an investigation's ranking."""

    COMPLETE = "complete"  # every configured source answered
    PARTIAL = "partial"  # some source errored: ranked from the ones that answered
    NO_SOURCES = "no_sources"  # nothing configured: ranked from alerts and the graph only


class InvestigationInput(Artifact):
    incident: Incident


class Investigation(Artifact):
    incident_id: str
    hypotheses: list[Hypothesis] = Field(description="Ranked, most likely first")
    rejected: list[RejectedHypothesis]
    evidence: list[Evidence]
    summary: str
    engine: Engine = Engine.RULES
    engine_reason: str = Field(
        default="", description="Why this engine answered, e.g. why an LLM answer was refused"
    )
    llm_usage: LlmUsage | None = Field(default=None, description="What the LLM engine spent")
    status: InvestigationStatus = InvestigationStatus.COMPLETE
    sources: list[SourceReport] = Field(
        default_factory=list, description="Each evidence source and how it answered"
    )

    @property
    def top(self) -> Hypothesis | None:
        """The most likely hypothesis, if any."""
        return self.hypotheses[0] if self.hypotheses else None
