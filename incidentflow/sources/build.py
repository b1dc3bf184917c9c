"""Compose the evidence sources the settings enable into one source the agent asks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from incidentflow.errors import ConfigError
from incidentflow.evidence import (
    CapacityRecord,
    CapacitySource,
    ChangeRecord,
    EvidenceSource,
    LogLevel,
    LogRecord,
    MetricSeries,
    NodeRecord,
    Runbook,
    RunbookSource,
    SpanRecord,
    SpanSource,
)
from incidentflow.models import Alert
from incidentflow.settings import SourceSettings
from incidentflow.sources.files import load_changes, load_runbooks, match_runbooks, read_yaml, utc
from incidentflow.sources.live import LiveSource


class CompositeSource:
    """Several sources answered as one: each question goes to all, answers are merged."""

    def __init__(self, sources: Sequence[EvidenceSource]) -> None:
        self._sources = list(sources)

    @property
    def name(self) -> str:
        """The member sources' names joined (a single member keeps its own name)."""
        return "+".join(s.name for s in self._sources)

    @property
    def members(self) -> list[EvidenceSource]:
        """The sources this one asks."""
        return list(self._sources)

    def aligned(self, alerts: Sequence[Alert]) -> CompositeSource:
        """Each member lined up with the incident."""
        return CompositeSource([s.aligned(alerts) for s in self._sources])

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """Changes from every member, oldest first, one per id."""
        found = {
            c.id: c
            for s in self._sources
            for c in s.changes(services=services, start=start, end=end)
        }
        return sorted(found.values(), key=lambda c: (c.at, c.id))

    def logs(
        self,
        *,
        services: Sequence[str],
        start: datetime,
        end: datetime,
        min_level: LogLevel = LogLevel.WARNING,
    ) -> list[LogRecord]:
        """Log lines from every member, by time."""
        lines = [
            r
            for s in self._sources
            for r in s.logs(services=services, start=start, end=end, min_level=min_level)
        ]
        return sorted(lines, key=lambda r: r.at)

    def metrics(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[MetricSeries]:
        """Series from every member; the first member to name a series id wins."""
        found: dict[str, MetricSeries] = {}
        for s in self._sources:
            for series in s.metrics(services=services, start=start, end=end):
                found.setdefault(series.id, series)
        return list(found.values())

    def spans(self, *, services: Sequence[str], start: datetime, end: datetime) -> list[SpanRecord]:
        """Spans from the members that hold traces."""
        return [
            span
            for s in self._sources
            if isinstance(s, SpanSource)
            for span in s.spans(services=services, start=start, end=end)
        ]

    def runbooks(self, *, alertnames: Sequence[str], services: Sequence[str]) -> list[Runbook]:
        """Runbooks from the members that hold them."""
        return [
            book
            for s in self._sources
            if isinstance(s, RunbookSource)
            for book in s.runbooks(alertnames=alertnames, services=services)
        ]

    def capacity(self, *, services: Sequence[str]) -> list[CapacityRecord]:
        """Deployments from the members that read the cluster; the first to name one wins."""
        found: dict[str, CapacityRecord] = {}
        for s in self._sources:
            if isinstance(s, CapacitySource):
                for record in s.capacity(services=services):
                    found.setdefault(record.service, record)
        return list(found.values())

    def nodes(self, *, names: Sequence[str]) -> list[NodeRecord]:
        """Nodes from the members that read the cluster; the first to name one wins."""
        found: dict[str, NodeRecord] = {}
        for s in self._sources:
            if isinstance(s, CapacitySource):
                for node in s.nodes(names=names):
                    found.setdefault(node.name, node)
        return list(found.values())


class FileChangeLog(LiveSource):
    """A deploy/config change log kept as a YAML or JSON file (`changes:` list)."""

    def __init__(self, path: Path, *, name: str = "changelog") -> None:
        if not path.is_file():
            raise ConfigError(f"INCIDENTFLOW_CHANGELOG_FILE={path} is not a file")
        self._path = path
        self._name = name

    def changes(
        self, *, services: Sequence[str], start: datetime, end: datetime
    ) -> list[ChangeRecord]:
        """Changes to `services` in the window; the file is re-read so appends are seen."""
        wanted, lo, hi = set(services), utc(start), utc(end)
        return [
            c
            for c in load_changes(self._path, f"file://{self._path.resolve()}")
            if c.service in wanted and lo <= c.at <= hi
        ]


class RunbookDir(LiveSource):
    """A directory of Markdown runbooks with front matter (`alerts:`, `services:`)."""

    def __init__(self, folder: Path, *, name: str = "runbooks") -> None:
        if not folder.is_dir():
            raise ConfigError(f"INCIDENTFLOW_RUNBOOKS_DIR={folder} is not a directory")
        self._folder = folder
        self._name = name

    def runbooks(self, *, alertnames: Sequence[str], services: Sequence[str]) -> list[Runbook]:
        """Runbooks naming the alerts or services, read fresh so edits are seen."""
        books = load_runbooks(self._folder, f"file://{self._folder.resolve()}")
        return match_runbooks(books, alertnames=list(alertnames), services=list(services))


def evidence_sources(cfg: SourceSettings) -> list[EvidenceSource]:
    """The live sources the settings enable, in a fixed order (none contacted here)."""
    from incidentflow.sources.prometheus import PrometheusSource

    out: list[EvidenceSource] = []
    if cfg.prometheus.prometheus_url:
        queries = None
        if cfg.prometheus.prometheus_queries:
            raw = read_yaml(cfg.prometheus.prometheus_queries)
            if not raw:
                raise ConfigError(
                    f"INCIDENTFLOW_PROMETHEUS_QUERIES={cfg.prometheus.prometheus_queries} must map "
                    "signal names to PromQL templates"
                )
            queries = {str(k): str(v) for k, v in raw.items()}
        setting = f"INCIDENTFLOW_PROMETHEUS_QUERIES={cfg.prometheus.prometheus_queries}"
        out.append(
            PrometheusSource(cfg.prometheus.prometheus_url, queries=queries, setting=setting)
        )
    if cfg.loki.loki_url:
        from incidentflow.sources.loki import LokiSource

        out.append(
            LokiSource(
                cfg.loki.loki_url,
                template=cfg.loki.loki_query_template,
                tenant=cfg.loki.loki_tenant,
                grafana_url=cfg.loki.loki_grafana_url,
                datasource=cfg.loki.loki_grafana_datasource,
            )
        )
    if cfg.changelog.changelog_file:
        out.append(FileChangeLog(cfg.changelog.changelog_file))
    if cfg.changelog.changelog_url:
        from incidentflow.sources.changelog_http import HttpChangeLog

        # Each source is reported by name: two change logs must not share one.
        name = "changelog-http" if cfg.changelog.changelog_file else "changelog"
        out.append(
            HttpChangeLog(
                cfg.changelog.changelog_url, token=cfg.changelog.changelog_token, name=name
            )
        )
    if cfg.kubectl.kubectl_changes or cfg.kubectl.kubectl_capacity:
        from incidentflow.sources.kubectl import KubectlChangeLog

        out.append(
            KubectlChangeLog(
                read_changes=cfg.kubectl.kubectl_changes,
                read_capacity=cfg.kubectl.kubectl_capacity,
                binary=cfg.kubectl.kubectl_binary,
                namespace=cfg.kubectl.kubectl_namespace,
                kubeconfig=cfg.kubectl.kubectl_kubeconfig,
                context=cfg.kubectl.kubectl_context,
                app_label=cfg.kubectl.kubectl_app_label,
            )
        )
    if cfg.runbooks.runbooks_dir:
        out.append(RunbookDir(cfg.runbooks.runbooks_dir))
    return out
