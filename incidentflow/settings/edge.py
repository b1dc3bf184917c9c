"""Settings read at the edges: the Temporal connection, the process, ingest, people, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from incidentflow.settings.base import Group, empty_is_unset

WORKFLOW_QUEUE = "incidentflow-workflows"
AGENT_QUEUE = "incidentflow-agents"
REMEDIATION_QUEUE = "incidentflow-remediation"


class TemporalSettings(Group):
    """Every process that talks to Temporal: where it is, how to trust it, the queues."""

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
    temporal_ui_url: str | None = Field(
        default=None,
        description="The Temporal UI the incident page links to; unset = the embedded one",
    )
    task_queue_prefix: str = Field(default="", description="Prepended to every task queue name")

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
    def embedded(self) -> bool:
        """True when the app runs its own dev server (no address configured)."""
        return self.temporal_address is None

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.embedded_ui_port}"


class ProcessSettings(Group):
    """How any IncidentFlow process runs: logs, traces, metrics, CPU and memory habits."""

    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto = text on a terminal, JSON lines otherwise"
    )
    log_level: str = Field(default="INFO", description="Root log level")
    # Production runs each worker in its own container, where niceness buys nothing: 0. On a
    # shared host, `incidentflow up` starts its workers at nice 10 (cli/stack.py) instead.
    worker_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="CPU niceness a worker process takes at start, for itself and for its own "
        "session's scheduling group (incidentflow/runtime.py); 0 = as started; `incidentflow "
        "up` gives its workers 10 unless this is set",
    )
    gc_gen0_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Allocations between young-generation collections in the webhook and "
        "workers, which also freeze what startup loaded (incidentflow/runtime.py); "
        "0 = Python's defaults",
    )
    malloc_trim_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often a worker hands the C heap's free pages back to the kernel "
        "(glibc malloc_trim; incidentflow/runtime.py); 0 = never",
    )
    # Unset derives the ceiling from the worker's own resting RSS (rest + max(64 MiB, 50%)):
    # a storm's leftovers cross it, a few open incidents do not (incidentflow/runtime.py).
    worker_recycle_above_mib: int | None = Field(
        default=None,
        ge=0,
        description="RSS in MiB above which an idle worker shuts down gracefully and "
        "re-executes itself (same PID) to give a storm's memory back; unset = its resting "
        "RSS + max(64 MiB, 50%); 0 = never",
    )
    # The storm benchmark's rest period; a storm's gaps between batches are far shorter.
    worker_recycle_quiet_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a worker must be idle (no activity in flight, no workflow "
        "started, signalled or updated) before it may recycle",
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

    blank_is_unset = field_validator("worker_recycle_above_mib", mode="before")(empty_is_unset)


class IngestSettings(Group):
    """The ingest service's webhook: where it listens, who may post, how streams are fed."""

    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080
    webhook_url: str | None = Field(default=None, description="Where `demo` and `alert send` post")
    max_body_bytes: int = 1_048_576
    accept_timeout_seconds: float = Field(
        default=5.0, description="How long the webhook waits for Temporal before answering 503"
    )
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
    stream_config_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="A running alert stream reads its settings again once they are this old",
    )

    @property
    def ingest_url(self) -> str:
        return self.webhook_url or f"http://{self.webhook_host}:{self.webhook_port}"


class PeopleSettings(Group):
    """How the ingest service's API knows a person: tokens, OIDC, Slack (docs/decisions.md)."""

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

    blank_is_unset = field_validator(
        "oidc_issuer", "oidc_audience", "oidc_jwks_url", "slack_signing_secret", mode="before"
    )(empty_is_unset)


class DecisionSettings(Group):
    """Signed decisions (issue 19): the API signs with its key, workers verify and check roles."""

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

    blank_is_unset = field_validator("decision_signing_key", mode="before")(empty_is_unset)


class CliSettings(Group):
    """The CLI user's own: where decisions go and the credential they are sent with."""

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

    blank_is_unset = field_validator("api_token", "api_url", mode="before")(empty_is_unset)
