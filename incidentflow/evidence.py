"""The read-only evidence contract investigation reasons over.

An `EvidenceSource` answers three questions for a set of services and a time window: what
changed, what did they log, and what did their metrics do. Sources that also hold traces or
runbooks say so by implementing `SpanSource` / `RunbookSource` as well. Implementations (a
scenario bundle, Prometheus, Loki, change logs, runbooks: `incidentflow.sources`) are plug-ins:
nothing here touches the network, and building a source must not either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.models import Alert


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChangeKind(StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    FEATURE_FLAG = "feature_flag"
    INFRA = "infra"


class ChangeRecord(_Record):
    """One deploy or configuration change, with what it was before and after."""

    id: str
    service: str
    kind: ChangeKind
    at: datetime
    before: str = Field(description="Version or value before the change")
    after: str = Field(description="Version or value after the change")
    author: str = "unknown"
    description: str = ""
    link: str | None = None


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return list(LogLevel).index(self)


class LogRecord(_Record):
    """One structured log line."""

    at: datetime
    service: str
    level: LogLevel
    message: str
    trace_id: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    link: str | None = None


class MetricPoint(_Record):
    at: datetime
    value: float


# A series' scope: the `scope` label says what it describes. `node` marks a host's series
# (CPU, memory, network of the machine a pod runs on, as node_exporter reports them), with
# the host in the `node` label; such a series is the host's evidence, never its pods' own.
SCOPE_LABEL = "scope"
HOST_SCOPE = "node"
HOST_LABEL = "node"


class MetricSeries(_Record):
    """One named series of one service: `id` is stable and unique within a source.

    `service` is the service the series was reported with; a host-scoped series (labels
    `scope: node`, `node: <host>`) describes that service's host, not the service.
    """

    id: str = Field(description="e.g. payments_http_error_ratio")
    name: str = Field(description="Metric name, e.g. http_error_ratio")
    service: str
    labels: dict[str, str] = Field(default_factory=dict)
    unit: str = ""
    query: str = Field(default="", description="How to ask the live system for it (PromQL)")
    points: list[MetricPoint] = Field(default_factory=list)
    link: str | None = None

    @property
    def host(self) -> str | None:
        """The host this series describes when it is host-scoped, else None."""
        if self.labels.get(SCOPE_LABEL) != HOST_SCOPE:
            return None
        return self.labels.get(HOST_LABEL) or "unnamed host"


class SpanStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    UNSET = "unset"


class SpanRecord(_Record):
    """One span of a trace, as OpenTelemetry records it."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    service: str
    operation: str
    start: datetime
    end: datetime
    status: SpanStatus = SpanStatus.UNSET
    attributes: dict[str, str] = Field(default_factory=dict)
    link: str | None = None

    @property
    def seconds(self) -> float:
        """Wall-clock duration of the span."""
        return (self.end - self.start).total_seconds()


class Runbook(_Record):
    """A runbook page whose front matter says which alerts and services it is for."""

    id: str
    title: str
    alerts: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    body: str = ""
    link: str | None = None


class EvidenceSource(Protocol):
    """Read-only access to changes, logs and metrics; every answer is sorted by time."""

    @property
    def name(self) -> str:
        """Short name recorded as `Evidence.source`, e.g. `bundle`."""
        ...

    def aligned(self, alerts: Sequence[Alert]) -> EvidenceSource:
        """This source with its clock lined up to a live incident's alerts.

        Live sources return themselves; a recorded one shifts its data (see
        `incidentflow.sources.bundle.BundleEvidenceSource`).
        """
        ...

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """Changes to `services` with `start <= at <= end`."""
        ...

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """Log lines of `services` at `min_level` or worse within the window."""
        ...

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """Series of `services`, holding only the points within the window."""
        ...


@runtime_checkable
class SpanSource(Protocol):
    """A source that also holds traces (a scenario bundle; a tracing backend later)."""

    def spans(self, *, services: Sequence[str], start: datetime, end: datetime) -> list[SpanRecord]:
        """Every span of each trace that touches `services` within the window."""
        ...


@runtime_checkable
class RunbookSource(Protocol):
    """A source of runbooks matched to alerts by their front matter."""

    def runbooks(self, *, alertnames: Sequence[str], services: Sequence[str]) -> list[Runbook]:
        """Runbooks naming one of `alertnames` or `services`."""
        ...


class PodState(_Record):
    """One pod of a service: where it runs and how its container last ended."""

    name: str
    node: str | None = None
    ready: bool = True
    restarts: int = Field(default=0, ge=0)
    last_terminated: str | None = Field(
        default=None, description="Why its container last ended, e.g. OOMKilled, Error"
    )


class HpaState(_Record):
    """A HorizontalPodAutoscaler's bounds and where it stands."""

    name: str
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    current_replicas: int = Field(ge=0)

    @property
    def at_max(self) -> bool:
        """It cannot add a replica: the bound, not the autoscaler, limits the service."""
        return self.current_replicas >= self.max_replicas


class CapacityRecord(_Record):
    """A service's Deployment as the cluster holds it: replicas, one container's requests and
    limits (quantities as Kubernetes writes them; None where unset), its HPA, its pods."""

    service: str
    deployment: str
    namespace: str | None = None
    replicas: int = Field(ge=0)
    ready_replicas: int = Field(default=0, ge=0)
    container: str = ""
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    hpa: HpaState | None = None
    pods: list[PodState] = Field(default_factory=list)
    link: str | None = None


class NodeRecord(_Record):
    """One node: its Ready condition, the pressure conditions that hold, whether it is cordoned."""

    name: str
    ready: bool = True
    pressure: list[str] = Field(
        default_factory=list, description="Conditions that are True: MemoryPressure, ..."
    )
    unschedulable: bool = False
    services: list[str] = Field(
        default_factory=list, description="Services with pods on it (any, not just the asked)"
    )
    failing_services: list[str] = Field(
        default_factory=list, description="Services with a failing pod on it"
    )
    link: str | None = None

    @property
    def unhealthy(self) -> bool:
        """NotReady or under some pressure."""
        return not self.ready or bool(self.pressure)


@runtime_checkable
class CapacitySource(Protocol):
    """A source of what the cluster runs: Deployments, their HPAs and pods, and the nodes."""

    def capacity(self, *, services: Sequence[str]) -> list[CapacityRecord]:
        """The Deployment (with HPA and pods) of each of `services` that the source knows."""
        ...

    def nodes(self, *, names: Sequence[str]) -> list[NodeRecord]:
        """The nodes called `names` that the source knows."""
        ...
