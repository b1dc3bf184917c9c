"""Settings the agents' worker reads: rules, the service graph, evidence sources, the LLM.

Each evidence source has its own group (issue 4): off until configured, and none is contacted
at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from incidentflow.settings.base import Group


class AgentSettings(Group):
    """What the rules engines read: the rules file and investigation's time windows."""

    rules_path: Path | None = Field(
        default=None, description="Detection and correlation rules YAML (docs/ingest.md)"
    )
    investigation_baseline_seconds: int = Field(
        default=3600, gt=0, description="How far before the first alert 'normal' is read"
    )
    investigation_pre_onset_seconds: int = Field(
        default=600, ge=0, description="The baseline ends this long before the first alert"
    )


class GraphSettings(Group):
    """The service graph: the catalog, and what is learned over it (docs/service-graph.md).

    The catalog wins on conflicts; nothing is contacted until the first alert.
    """

    catalog_path: Path | None = Field(
        default=None,
        description="Service graph YAML; unset = the evidence bundle's topology, else empty",
    )
    graph_learn: list[str] = Field(
        default_factory=lambda: ["prometheus", "spans", "alert_labels"],
        description="What the graph is learned from (JSON list); [] = the catalog only",
    )
    graph_prometheus_queries: list[dict[str, str]] = Field(
        default_factory=lambda: [q.model_dump() for q in _graph_queries()],
        description='PromQL whose series are edges: [{"query": "...", "caller": "client", '
        '"callee": "server"}]; default: Tempo/OpenTelemetry and Istio service-graph series',
    )
    graph_callee_labels: list[str] = Field(
        default_factory=lambda: list(_peer_labels().callee),
        description="Alert labels naming the service the alert's service calls (first present)",
    )
    graph_caller_labels: list[str] = Field(
        default_factory=lambda: list(_peer_labels().caller),
        description="Alert labels naming the service that calls the alert's service",
    )
    graph_ignore_services: list[str] = Field(
        default_factory=lambda: ["unknown", "user"],
        description="Placeholder node names never taken as services (Istio's, Tempo's)",
    )
    graph_refresh_seconds: int = Field(
        default=300, ge=10, le=86_400, description="How often learned edges are read again"
    )
    graph_window_seconds: int = Field(
        default=3600, gt=0, description="How far back spans are read for edges"
    )
    graph_label_ttl_seconds: int = Field(
        default=86_400, gt=0, description="How long an edge an alert label named is kept"
    )


class PrometheusSourceSettings(Group):
    prometheus_url: str | None = Field(default=None, description="Prometheus HTTP API base URL")
    prometheus_queries: Path | None = Field(
        default=None, description="YAML of signal name -> PromQL template with {service}"
    )


class LokiSourceSettings(Group):
    loki_url: str | None = Field(default=None, description="Loki HTTP API base URL (logs)")
    loki_query_template: str = Field(
        default='{service="{service}"} |~ "(?i)error|exception|timeout|fatal|panic|warn"',
        description="LogQL log query; {service} is replaced by each service's name",
    )
    loki_tenant: str | None = Field(default=None, description="X-Scope-OrgID sent to Loki")
    loki_grafana_url: str | None = Field(
        default=None, description="Grafana base URL: log evidence links open in Explore"
    )
    loki_grafana_datasource: str = Field(default="loki", description="Loki datasource uid")


class ChangelogSourceSettings(Group):
    changelog_file: Path | None = Field(default=None, description="Change log YAML/JSON file")
    changelog_url: str | None = Field(default=None, description="Change log HTTP JSON endpoint")
    changelog_token: SecretStr | None = Field(default=None, description="Its bearer token")


class RunbookSourceSettings(Group):
    runbooks_dir: Path | None = Field(default=None, description="Markdown runbooks directory")


class KubectlSourceSettings(Group):
    """Read-only rollout history; the remediation worker's write credentials are elsewhere."""

    kubectl_changes: bool = Field(default=False, description="Read deploys from ReplicaSets")
    kubectl_capacity: bool = Field(
        default=False,
        description="Read each service's Deployment, HPA and pods, and their nodes (needs get "
        "on deployments, horizontalpodautoscalers, pods and nodes)",
    )
    kubectl_binary: str = Field(default="kubectl", description="kubectl for rollout history")
    kubectl_kubeconfig: Path | None = Field(default=None, description="Read-only kubeconfig")
    kubectl_context: str | None = Field(default=None, description="kubeconfig context")
    kubectl_namespace: str = Field(default="default", description="Namespace of the services")
    kubectl_app_label: str = Field(default="app", description="Label naming a pod's service")


class SourceSettings(Group):
    """Every evidence source, each in its own group, and the bundle served as evidence."""

    evidence_bundle: Path | None = Field(
        default=None, description="Scenario bundle served as evidence; unset = none (demo sets it)"
    )
    prometheus: PrometheusSourceSettings = Field(default_factory=PrometheusSourceSettings)
    loki: LokiSourceSettings = Field(default_factory=LokiSourceSettings)
    changelog: ChangelogSourceSettings = Field(default_factory=ChangelogSourceSettings)
    runbooks: RunbookSourceSettings = Field(default_factory=RunbookSourceSettings)
    kubectl: KubectlSourceSettings = Field(default_factory=KubectlSourceSettings)


class LlmSettings(Group):
    """LLM engines (issue 6, docs/llm.md): off until `llm_agents` names agents.

    Only the agents' worker reads these; the key never enters a workflow input or an artifact.
    """

    llm_agents: str = Field(
        default="",
        description="Agents that ask the model: 'all' or a comma list of detection, "
        "correlation, investigation, remediation, postmortem; empty = rules only",
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API base URL, e.g. http://127.0.0.1:8000/v1"
    )
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer key; never logged")
    llm_model: str | None = Field(default=None, description="Model name the endpoint serves")
    llm_timeout_seconds: float = Field(default=30.0, gt=0, description="One request's limit")
    llm_max_output_tokens: int = Field(default=2048, gt=0, description="Per answer")
    llm_context_tokens: int = Field(
        default=12_000, ge=1000, description="Input budget per request; context is cut to fit"
    )
    llm_tool_steps: int = Field(
        default=8, ge=0, description="Evidence tool calls an investigation may make"
    )
    llm_max_attempts: int = Field(
        default=3, ge=1, description="Activity attempts on 429/5xx/timeouts before rules answer"
    )
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_response_format: Literal["json_schema", "json_object", "none"] = Field(
        default="json_schema", description="How structured output is asked for"
    )
    llm_redact: str = Field(
        default="tokens,emails,ips",
        description="What is masked before text leaves the process: tokens, emails, ips, none",
    )
    llm_redact_patterns: list[str] = Field(
        default_factory=list, description="Extra regular expressions to mask (JSON list)"
    )


def _graph_queries() -> tuple[Any, ...]:
    from incidentflow.graphs.prometheus import DEFAULT_GRAPH_QUERIES

    return DEFAULT_GRAPH_QUERIES


def _peer_labels() -> Any:
    from incidentflow.graphs.labels import PeerLabels

    return PeerLabels()
