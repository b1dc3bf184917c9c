"""One settings object, read from the environment at the edge and passed down.

Nothing here runs at import time; `Settings()` is built in worker.py, starter.py and the
ingest app. Every field maps to an `INCIDENTFLOW_<NAME>` environment variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WORKFLOW_QUEUE = "incidentflow-workflows"
AGENT_QUEUE = "incidentflow-agents"
REMEDIATION_QUEUE = "incidentflow-remediation"


class Settings(BaseSettings):
    """IncidentFlow configuration; defaults run everything on one machine."""

    model_config = SettingsConfigDict(env_prefix="INCIDENTFLOW_", extra="ignore")

    data_dir: Path = Field(default=Path(".incidentflow"), description="Dev server file, logs")
    environment: str = Field(default="production", description="Alert stream partition")

    temporal_address: str | None = Field(
        default=None, description="host:port of an existing server; unset = embedded dev server"
    )
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = Field(
        default=None, description="CA that signed Temporal's server certificate (mTLS)"
    )
    temporal_tls_server_name: str | None = Field(
        default=None, description="The name in Temporal's server certificate"
    )
    temporal_api_key: SecretStr | None = None

    embedded_port: int = 7233
    embedded_ui_port: int = 8233

    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080
    webhook_url: str | None = Field(default=None, description="Where `demo` and `alert send` post")
    max_body_bytes: int = 1_048_576
    accept_timeout_seconds: float = Field(
        default=5.0, description="How long the webhook waits for Temporal before answering 503"
    )

    # Ingest (issue 3): auth per source, partitioning, the settle window, the rules file.
    ingest_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Bearer token per source (JSON: {"alertmanager": "...", "*": "..."})',
    )
    ingest_hmac_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="HMAC-SHA256 body signature secret per source (JSON)"
    )
    ingest_hmac_window_seconds: int = Field(
        default=300,
        gt=0,
        le=86_400,
        description="How far a signed request's timestamp may be from now (replays older fail)",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the webhook (the Temporal UI's, for the "
        'codec endpoint), JSON: ["https://temporal-ui.example"]; empty = none',
    )
    webhook_insecure: bool = Field(
        default=False,
        description="Serve the webhook on a non-loopback address with no credentials at all",
    )
    partition_labels: list[str] = Field(
        default_factory=lambda: ["environment", "env"],
        description="Labels whose first value present names an alert's stream partition",
    )
    max_partitions: int = Field(
        default=20,
        gt=0,
        description="Stream partitions one ingest process routes to (the default included); "
        "alerts naming more go to the default partition, with a warning",
    )
    max_stream_backlog: int = Field(
        default=50_000, gt=0, description="Alerts waiting in a stream above which ingest says 503"
    )
    max_stream_history_mb: float = Field(
        default=16.0,
        gt=0,
        le=40,
        description="History of a stream's current run above which ingest says 503 "
        "(Temporal ends a run at 50 MB; the stream hands over once its backlog drains)",
    )
    settle_seconds: float = Field(
        default=0.0, ge=0, le=3600, description="Hold new alerts this long before correlating"
    )
    rules_path: Path | None = Field(
        default=None, description="Detection and correlation rules YAML (docs/ingest.md)"
    )

    task_queue_prefix: str = Field(default="", description="Prepended to every task queue name")
    approval_timeout_seconds: int = Field(default=1800, gt=0)
    resolved_settle_seconds: int = Field(
        default=60,
        ge=0,
        description="Every alert of an incident resolved before approval and none fired again "
        "for this long: the plan is withdrawn and the incident ends resolved",
    )
    reinvestigate_debounce_seconds: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="An incident that changed materially before a decision is investigated "
        "and planned again once no further change came for this long (docs/incidents.md)",
    )

    catalog_path: Path | None = Field(
        default=None,
        description="Service graph YAML; unset = the evidence bundle's topology, else empty",
    )
    # The learned service graph (issue 13, docs/service-graph.md): merged over the catalog,
    # which wins on conflicts; nothing is contacted until the first alert.
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
    evidence_bundle: Path | None = Field(
        default=None, description="Scenario bundle served as evidence; unset = none (demo sets it)"
    )
    # Evidence sources (issue 4): each is off until configured; none is contacted at start-up.
    prometheus_url: str | None = Field(default=None, description="Prometheus HTTP API base URL")
    prometheus_queries: Path | None = Field(
        default=None, description="YAML of signal name -> PromQL template with {service}"
    )
    changelog_file: Path | None = Field(default=None, description="Change log YAML/JSON file")
    runbooks_dir: Path | None = Field(default=None, description="Markdown runbooks directory")
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
    changelog_url: str | None = Field(default=None, description="Change log HTTP JSON endpoint")
    changelog_token: SecretStr | None = Field(default=None, description="Its bearer token")
    # Read-only rollout history for investigation; the executor_* settings below are the
    # remediation worker's write credentials and are deliberately separate.
    kubectl_changes: bool = Field(default=False, description="Read deploys from ReplicaSets")
    kubectl_binary: str = Field(default="kubectl", description="kubectl for rollout history")
    kubectl_kubeconfig: Path | None = Field(default=None, description="Read-only kubeconfig")
    kubectl_context: str | None = Field(default=None, description="kubeconfig context")
    kubectl_namespace: str = Field(default="default", description="Namespace of the services")
    kubectl_app_label: str = Field(default="app", description="Label naming a pod's service")
    investigation_baseline_seconds: int = Field(
        default=3600, gt=0, description="How far before the first alert 'normal' is read"
    )
    investigation_pre_onset_seconds: int = Field(
        default=600, ge=0, description="The baseline ends this long before the first alert"
    )
    executor: str = Field(
        default="dry-run",
        description="'dry-run', or the real executors to enable: 'kubectl,http,script'",
    )

    # Remediation (issue 5). Executor credentials are paths or secrets that only the
    # remediation worker opens (incidentflow/executors); other processes never touch them.
    executor_kubectl: str = Field(default="kubectl", description="kubectl binary")
    executor_kubeconfig: Path | None = Field(default=None, description="kubeconfig for kubectl")
    executor_http_url: str | None = Field(
        default=None, description="Where http actions POST when their kind has no route below"
    )
    executor_http_actions: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per action kind: {"rollback": {"method": "POST", "url": "https://deploy/'
        '{service}/rollback", "body": {"version": "{to_version}"}}} (docs/remediation.md)',
    )
    executor_http_secret: SecretStr | None = Field(default=None, description="HMAC key")
    executor_http_secret_file: Path | None = Field(
        default=None, description="File holding the HMAC key (a mounted secret)"
    )
    executor_script_dir: Path | None = Field(
        default=None, description="Allow-listed directory of runbook scripts"
    )
    executor_timeout_seconds: float = Field(default=300.0, gt=0)
    approval_policy: dict[str, list[str]] = Field(
        default_factory=lambda: {"low": ["*"], "medium": ["*"], "high": ["*"]},
        description='Who may approve each risk (JSON: {"high": ["alice", "bob"]}); * = anyone',
    )
    approval_two_person: list[str] = Field(
        default_factory=lambda: ["high"], description="Risks that need two different approvers"
    )
    # Decisions (issue 19, docs/decisions.md): people authenticate to the ingest service's API
    # (a token per person, or OIDC); it signs each decision and the workflows verify it.
    decisions_allow_unsigned: bool | None = Field(
        default=None,
        description="Believe unsigned decisions sent straight to Temporal (`--by` as typed); "
        "unset = only with the embedded dev server and no decision key configured",
    )
    decision_signing_key: SecretStr | None = Field(
        default=None, description="The API's Ed25519 private key (`incidentflow decision-keys`)"
    )
    decision_signing_key_file: Path | None = Field(
        default=None, description="File holding that key (a mounted secret); ingest only"
    )
    decision_verify_keys: list[str] = Field(
        default_factory=list,
        description="Ed25519 public keys whose decisions workers believe (JSON list; rotation: "
        "list old and new)",
    )
    decision_max_age_seconds: int = Field(
        default=300, gt=0, le=3600, description="How old a signed decision may arrive"
    )
    decision_roles: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description='Roles per service, team (catalog owner) or "*": JSON {"team-payments": '
        '{"approvers": ["alice"], "owners": ["carol"]}}',
    )
    api_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description='Decision API token per person (JSON {"alice": "..."})'
    )
    oidc_issuer: str | None = Field(default=None, description="OIDC issuer people log in with")
    oidc_audience: str | None = Field(default=None, description="The audience tokens must name")
    oidc_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS URL; unset = from its discovery document"
    )
    oidc_identity_claim: str = Field(default="email", description="The claim naming the person")
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"], description="Accepted JWT algorithms"
    )
    api_url: str | None = Field(
        default=None, description="Where the CLI sends decisions; unset = the webhook's URL"
    )
    api_token: SecretStr | None = Field(
        default=None, description="The CLI user's own decision credential (token or OIDC JWT)"
    )
    credentials_file: Path | None = Field(
        default=None,
        description="The CLI user's credentials file; unset = ~/.config/incidentflow/credentials",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="The Slack app's signing secret: enables decision buttons"
    )
    slack_users: dict[str, str] = Field(
        default_factory=dict, description='Slack user id -> identity (JSON {"U024BE7LH": "alice"})'
    )
    slack_response_url_prefix: str = Field(
        default="https://hooks.slack.com/",
        description="Where a Slack interaction's response_url may point (outcome updates)",
    )
    verify_window_seconds: int = Field(default=600, gt=0, description="Verification window")
    verify_poll_seconds: int = Field(default=15, gt=0, description="PromQL verification poll")
    verify_prometheus_url: str | None = Field(
        default=None, description="Prometheus that PromQL verifications query"
    )
    notify_slack_url: SecretStr | None = Field(
        default=None, description="Slack-compatible incoming webhook URL"
    )
    notify_slack_buttons: bool = Field(
        default=False,
        description="Approve/Reject buttons on Slack decision messages (the ingest service "
        "needs INCIDENTFLOW_SLACK_SIGNING_SECRET to take the clicks)",
    )
    notify_webhook_url: str | None = Field(default=None, description="Generic JSON webhook URL")
    postmortem_dir: Path | None = Field(
        default=None, description="Where post-mortems are written; unset = <data_dir>/postmortems"
    )

    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto = text on a terminal, JSON lines otherwise"
    )
    log_level: str = Field(default="INFO", description="Root log level")
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness a worker process takes at start, for itself and for its own "
        "session's scheduling group: on a shared host the webhook's 202s go first "
        "(incidentflow/runtime.py); 0 = as started",
    )
    gc_gen0_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Allocations between young-generation collections in the webhook and "
        "workers, which also freeze what startup loaded (incidentflow/runtime.py); "
        "0 = Python's defaults",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; unset = none",
    )
    metrics_bind: str | None = Field(
        default=None,
        description="host:port serving Prometheus /metrics (SDK and ours); unset = no endpoint",
    )
    metrics_state_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often a workflows worker counts incidents by state"
    )

    # LLM engines (issue 6, docs/llm.md): off until INCIDENTFLOW_LLM_AGENTS names agents. Only
    # the agents' worker reads these; the key never enters a workflow input or an artifact.
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

    # Chaos drills: how the durability tests (and a curious operator) break things on purpose.
    drill_investigation_delay_seconds: float = Field(
        default=0.0, ge=0, description="Hold each investigation open this long, heartbeating"
    )
    drill_crash_after_execute: bool = Field(
        default=False, description="Remediation worker exits right after acting, before reporting"
    )
    drill_execute_delay_seconds: float = Field(
        default=0.0, ge=0, description="Hold each execution open this long before acting"
    )

    @field_validator(
        "oidc_issuer",
        "oidc_audience",
        "oidc_jwks_url",
        "decision_signing_key",
        "slack_signing_secret",
        "api_token",
        "api_url",
        "notify_slack_url",
        "notify_webhook_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # docker-compose passes `${VAR:-}` as an empty string: that means "not configured",
        # never "an empty secret" (an empty Slack signing secret would let anyone sign).
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def postmortems_path(self) -> Path:
        """Where drafted post-mortems (Markdown and JSON) are written."""
        return self.postmortem_dir or self.data_dir / "postmortems"

    @property
    def remediation_dir(self) -> Path:
        """Where the remediation worker keeps its ledger of actions that took effect."""
        return self.data_dir / "remediation"

    @property
    def workflow_queue(self) -> str:
        return self.task_queue_prefix + WORKFLOW_QUEUE

    @property
    def agent_queue(self) -> str:
        return self.task_queue_prefix + AGENT_QUEUE

    @property
    def remediation_queue(self) -> str:
        return self.task_queue_prefix + REMEDIATION_QUEUE

    @property
    def target(self) -> str:
        """The Temporal frontend address the app talks to."""
        return self.temporal_address or f"127.0.0.1:{self.embedded_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.embedded_ui_port}"

    @property
    def ingest_url(self) -> str:
        return self.webhook_url or f"http://{self.webhook_host}:{self.webhook_port}"


def _graph_queries() -> tuple[Any, ...]:
    from incidentflow.graphs.prometheus import DEFAULT_GRAPH_QUERIES

    return DEFAULT_GRAPH_QUERIES


def _peer_labels() -> Any:
    from incidentflow.graphs.labels import PeerLabels

    return PeerLabels()
