"""One settings object, read from the environment at the edge and passed down.

Nothing here runs at import time; `Settings()` is built in worker.py, starter.py and the
ingest app. Every field maps to an `INCIDENTFLOW_<NAME>` environment variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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

    task_queue_prefix: str = Field(default="", description="Prepended to every task queue name")
    approval_timeout_seconds: int = Field(default=1800, gt=0)

    catalog_path: Path | None = Field(
        default=None, description="Service graph YAML; unset = the bundled demo shop's"
    )
    evidence_bundle: Path | None = Field(
        default=None, description="Scenario bundle served as evidence; unset = bundled demo"
    )
    executor: str = Field(default="dry-run", description="Remediation executor")

    # Chaos drills: how the durability tests (and a curious operator) break things on purpose.
    drill_investigation_delay_seconds: float = Field(
        default=0.0, ge=0, description="Hold each investigation open this long, heartbeating"
    )
    drill_crash_after_execute: bool = Field(
        default=False, description="Remediation worker exits right after acting, before reporting"
    )

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
