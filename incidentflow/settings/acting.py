"""Settings of acting: approval, the executors (remediation worker only), verification, notices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from incidentflow.settings.base import Group, empty_is_unset


class ApprovalSettings(Group):
    """Who may approve what, and for how long an incident waits for a decision."""

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
        "and planned again once no further change came for this long (docs/remediation.md)",
    )
    approval_policy: dict[str, list[str]] = Field(
        default_factory=lambda: {"low": ["*"], "medium": ["*"], "high": ["*"]},
        description='Who may approve each risk (JSON: {"high": ["alice", "bob"]}); * = anyone',
    )
    approval_two_person: list[str] = Field(
        default_factory=lambda: ["high"], description="Risks that need two different approvers"
    )


class ExecutorSettings(Group):
    """Remediation (issue 5): the executors and their credentials.

    Paths and secrets here are opened only by the remediation worker (incidentflow/executors);
    other processes read at most the `executor` list, to say what is enabled.
    """

    executor: str = Field(
        default="dry-run",
        description="'dry-run', or the real executors to enable: 'kubectl,http,script'",
    )
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


class VerifySettings(Group):
    """How an action's effect is checked after it ran."""

    verify_window_seconds: int = Field(default=600, gt=0, description="Verification window")
    verify_poll_seconds: int = Field(default=15, gt=0, description="PromQL verification poll")
    verify_prometheus_url: str | None = Field(
        default=None, description="Prometheus that PromQL verifications query"
    )


class NotifySettings(Group):
    """Where people are told: Slack-compatible and generic webhooks."""

    notify_slack_url: SecretStr | None = Field(
        default=None, description="Slack-compatible incoming webhook URL"
    )
    notify_slack_buttons: bool = Field(
        default=False,
        description="Approve/Reject buttons on Slack decision messages (the ingest service "
        "needs INCIDENTFLOW_SLACK_SIGNING_SECRET to take the clicks)",
    )
    notify_webhook_url: str | None = Field(default=None, description="Generic JSON webhook URL")

    blank_is_unset = field_validator("notify_slack_url", "notify_webhook_url", mode="before")(
        empty_is_unset
    )
