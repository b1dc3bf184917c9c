"""One settings object, read from the environment at the edge and passed down in groups.

Nothing here runs at import time; `Settings()` is built in worker.py, starter.py, the CLI and
the ingest app. Settings are grouped by who reads them (`settings.llm`, `settings.executors`,
`settings.sources.loki`, ...) and each builder takes only its group. Every field still maps to
the `INCIDENTFLOW_<FIELD>` environment variable it always did: `Settings.env_names()` lists
them, and `replace()` sets fields by those same names wherever their group lives.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from incidentflow.settings.acting import (
    ApprovalSettings,
    ExecutorSettings,
    NotifySettings,
    VerifySettings,
)
from incidentflow.settings.agents import (
    AgentSettings,
    ChangelogSourceSettings,
    GraphSettings,
    KubectlSourceSettings,
    LlmSettings,
    LokiSourceSettings,
    PrometheusSourceSettings,
    RunbookSourceSettings,
    SourceSettings,
)
from incidentflow.settings.base import ENV_PREFIX, Group, leaves
from incidentflow.settings.edge import (
    AGENT_QUEUE,
    REMEDIATION_QUEUE,
    WORKFLOW_QUEUE,
    CliSettings,
    DecisionSettings,
    IngestSettings,
    PeopleSettings,
    ProcessSettings,
    TemporalSettings,
)

__all__ = [
    "AGENT_QUEUE",
    "REMEDIATION_QUEUE",
    "WORKFLOW_QUEUE",
    "AgentSettings",
    "ApprovalSettings",
    "ChangelogSourceSettings",
    "CliSettings",
    "DecisionSettings",
    "ExecutorSettings",
    "GraphSettings",
    "IngestSettings",
    "KubectlSourceSettings",
    "LlmSettings",
    "LokiSourceSettings",
    "NotifySettings",
    "PeopleSettings",
    "ProcessSettings",
    "PrometheusSourceSettings",
    "RunbookSourceSettings",
    "Settings",
    "SourceSettings",
    "TemporalSettings",
    "VerifySettings",
]


class Settings(Group):
    """IncidentFlow configuration; defaults run everything on one machine."""

    data_dir: Path = Field(default=Path(".incidentflow"), description="Dev server file, logs")
    environment: str = Field(default="production", description="Alert stream partition")
    postmortem_dir: Path | None = Field(
        default=None, description="Where post-mortems are written; unset = <data_dir>/postmortems"
    )

    # Each group reads its own INCIDENTFLOW_* variables when it is built.
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    process: ProcessSettings = Field(default_factory=ProcessSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    people: PeopleSettings = Field(default_factory=PeopleSettings)
    decisions: DecisionSettings = Field(default_factory=DecisionSettings)
    cli: CliSettings = Field(default_factory=CliSettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    executors: ExecutorSettings = Field(default_factory=ExecutorSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @property
    def postmortems_path(self) -> Path:
        """Where drafted post-mortems (Markdown and JSON) are written."""
        return self.postmortem_dir or self.data_dir / "postmortems"

    @property
    def remediation_dir(self) -> Path:
        """Where the remediation worker keeps its ledger of actions that took effect."""
        return self.data_dir / "remediation"

    @classmethod
    def env_names(cls) -> dict[str, tuple[str, ...]]:
        """Every environment variable read, with the groups its field lives in."""
        return {ENV_PREFIX + name.upper(): path for name, path in leaves(cls).items()}
