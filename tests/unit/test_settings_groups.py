"""Settings grouped by who reads them: no environment variable renamed, each builder its group.

OLD_NAMES is every variable the flat `Settings` read before the grouping (issue 17 item 7),
less the three chaos-drill switches, which moved to test code (tests/drills.py).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, SecretStr

from incidentflow.executors import build_executors
from incidentflow.identity.authn import Authenticator
from incidentflow.identity.config import roles_from, signer_from, trust_from
from incidentflow.ingest.auth import exposure_problem
from incidentflow.llm import build_engine, llm_config
from incidentflow.metrics import runtime
from incidentflow.notify import build_notifiers
from incidentflow.settings import (
    DecisionSettings,
    ExecutorSettings,
    IngestSettings,
    LlmSettings,
    NotifySettings,
    PeopleSettings,
    ProcessSettings,
    Settings,
    SourceSettings,
)
from incidentflow.sources.build import evidence_sources
from incidentflow.telemetry import configure_tracing

OLD_NAMES = (
    "INCIDENTFLOW_DATA_DIR",
    "INCIDENTFLOW_ENVIRONMENT",
    "INCIDENTFLOW_TEMPORAL_ADDRESS",
    "INCIDENTFLOW_TEMPORAL_NAMESPACE",
    "INCIDENTFLOW_TEMPORAL_TLS",
    "INCIDENTFLOW_TEMPORAL_TLS_CERT",
    "INCIDENTFLOW_TEMPORAL_TLS_KEY",
    "INCIDENTFLOW_TEMPORAL_TLS_CA",
    "INCIDENTFLOW_TEMPORAL_TLS_SERVER_NAME",
    "INCIDENTFLOW_TEMPORAL_API_KEY",
    "INCIDENTFLOW_EMBEDDED_PORT",
    "INCIDENTFLOW_EMBEDDED_UI_PORT",
    "INCIDENTFLOW_WEBHOOK_HOST",
    "INCIDENTFLOW_WEBHOOK_PORT",
    "INCIDENTFLOW_WEBHOOK_URL",
    "INCIDENTFLOW_MAX_BODY_BYTES",
    "INCIDENTFLOW_ACCEPT_TIMEOUT_SECONDS",
    "INCIDENTFLOW_INGEST_TOKENS",
    "INCIDENTFLOW_INGEST_HMAC_SECRETS",
    "INCIDENTFLOW_INGEST_HMAC_WINDOW_SECONDS",
    "INCIDENTFLOW_CORS_ORIGINS",
    "INCIDENTFLOW_WEBHOOK_INSECURE",
    "INCIDENTFLOW_PARTITION_LABELS",
    "INCIDENTFLOW_MAX_PARTITIONS",
    "INCIDENTFLOW_MAX_STREAM_BACKLOG",
    "INCIDENTFLOW_MAX_STREAM_HISTORY_MB",
    "INCIDENTFLOW_SETTLE_SECONDS",
    "INCIDENTFLOW_RULES_PATH",
    "INCIDENTFLOW_TASK_QUEUE_PREFIX",
    "INCIDENTFLOW_APPROVAL_TIMEOUT_SECONDS",
    "INCIDENTFLOW_RESOLVED_SETTLE_SECONDS",
    "INCIDENTFLOW_CATALOG_PATH",
    "INCIDENTFLOW_GRAPH_LEARN",
    "INCIDENTFLOW_GRAPH_PROMETHEUS_QUERIES",
    "INCIDENTFLOW_GRAPH_CALLEE_LABELS",
    "INCIDENTFLOW_GRAPH_CALLER_LABELS",
    "INCIDENTFLOW_GRAPH_IGNORE_SERVICES",
    "INCIDENTFLOW_GRAPH_REFRESH_SECONDS",
    "INCIDENTFLOW_GRAPH_WINDOW_SECONDS",
    "INCIDENTFLOW_GRAPH_LABEL_TTL_SECONDS",
    "INCIDENTFLOW_EVIDENCE_BUNDLE",
    "INCIDENTFLOW_PROMETHEUS_URL",
    "INCIDENTFLOW_PROMETHEUS_QUERIES",
    "INCIDENTFLOW_CHANGELOG_FILE",
    "INCIDENTFLOW_RUNBOOKS_DIR",
    "INCIDENTFLOW_LOKI_URL",
    "INCIDENTFLOW_LOKI_QUERY_TEMPLATE",
    "INCIDENTFLOW_LOKI_TENANT",
    "INCIDENTFLOW_LOKI_GRAFANA_URL",
    "INCIDENTFLOW_LOKI_GRAFANA_DATASOURCE",
    "INCIDENTFLOW_CHANGELOG_URL",
    "INCIDENTFLOW_CHANGELOG_TOKEN",
    "INCIDENTFLOW_KUBECTL_CHANGES",
    "INCIDENTFLOW_KUBECTL_BINARY",
    "INCIDENTFLOW_KUBECTL_KUBECONFIG",
    "INCIDENTFLOW_KUBECTL_CONTEXT",
    "INCIDENTFLOW_KUBECTL_NAMESPACE",
    "INCIDENTFLOW_KUBECTL_APP_LABEL",
    "INCIDENTFLOW_INVESTIGATION_BASELINE_SECONDS",
    "INCIDENTFLOW_INVESTIGATION_PRE_ONSET_SECONDS",
    "INCIDENTFLOW_EXECUTOR",
    "INCIDENTFLOW_EXECUTOR_KUBECTL",
    "INCIDENTFLOW_EXECUTOR_KUBECONFIG",
    "INCIDENTFLOW_EXECUTOR_HTTP_URL",
    "INCIDENTFLOW_EXECUTOR_HTTP_ACTIONS",
    "INCIDENTFLOW_EXECUTOR_HTTP_SECRET",
    "INCIDENTFLOW_EXECUTOR_HTTP_SECRET_FILE",
    "INCIDENTFLOW_EXECUTOR_SCRIPT_DIR",
    "INCIDENTFLOW_EXECUTOR_TIMEOUT_SECONDS",
    "INCIDENTFLOW_APPROVAL_POLICY",
    "INCIDENTFLOW_APPROVAL_TWO_PERSON",
    "INCIDENTFLOW_DECISIONS_ALLOW_UNSIGNED",
    "INCIDENTFLOW_DECISION_SIGNING_KEY",
    "INCIDENTFLOW_DECISION_SIGNING_KEY_FILE",
    "INCIDENTFLOW_DECISION_VERIFY_KEYS",
    "INCIDENTFLOW_DECISION_MAX_AGE_SECONDS",
    "INCIDENTFLOW_DECISION_ROLES",
    "INCIDENTFLOW_API_TOKENS",
    "INCIDENTFLOW_OIDC_ISSUER",
    "INCIDENTFLOW_OIDC_AUDIENCE",
    "INCIDENTFLOW_OIDC_JWKS_URL",
    "INCIDENTFLOW_OIDC_IDENTITY_CLAIM",
    "INCIDENTFLOW_OIDC_ALGORITHMS",
    "INCIDENTFLOW_API_URL",
    "INCIDENTFLOW_API_TOKEN",
    "INCIDENTFLOW_CREDENTIALS_FILE",
    "INCIDENTFLOW_SLACK_SIGNING_SECRET",
    "INCIDENTFLOW_SLACK_USERS",
    "INCIDENTFLOW_SLACK_RESPONSE_URL_PREFIX",
    "INCIDENTFLOW_VERIFY_WINDOW_SECONDS",
    "INCIDENTFLOW_VERIFY_POLL_SECONDS",
    "INCIDENTFLOW_VERIFY_PROMETHEUS_URL",
    "INCIDENTFLOW_NOTIFY_SLACK_URL",
    "INCIDENTFLOW_NOTIFY_SLACK_BUTTONS",
    "INCIDENTFLOW_NOTIFY_WEBHOOK_URL",
    "INCIDENTFLOW_POSTMORTEM_DIR",
    "INCIDENTFLOW_LOG_FORMAT",
    "INCIDENTFLOW_LOG_LEVEL",
    "INCIDENTFLOW_WORKER_NICE",
    "INCIDENTFLOW_GC_GEN0_THRESHOLD",
    "INCIDENTFLOW_OTLP_ENDPOINT",
    "INCIDENTFLOW_METRICS_BIND",
    "INCIDENTFLOW_METRICS_STATE_INTERVAL_SECONDS",
    "INCIDENTFLOW_LLM_AGENTS",
    "INCIDENTFLOW_LLM_BASE_URL",
    "INCIDENTFLOW_LLM_API_KEY",
    "INCIDENTFLOW_LLM_MODEL",
    "INCIDENTFLOW_LLM_TIMEOUT_SECONDS",
    "INCIDENTFLOW_LLM_MAX_OUTPUT_TOKENS",
    "INCIDENTFLOW_LLM_CONTEXT_TOKENS",
    "INCIDENTFLOW_LLM_TOOL_STEPS",
    "INCIDENTFLOW_LLM_MAX_ATTEMPTS",
    "INCIDENTFLOW_LLM_TEMPERATURE",
    "INCIDENTFLOW_LLM_RESPONSE_FORMAT",
    "INCIDENTFLOW_LLM_REDACT",
    "INCIDENTFLOW_LLM_REDACT_PATTERNS",
)

# Samples a type alone cannot give: values inside a field's bounds or its choices.
BOUNDED = {"INCIDENTFLOW_WORKER_NICE": "7", "INCIDENTFLOW_LLM_TEMPERATURE": "1.5"}


def sample(kind: Any) -> Any:
    """A value of `kind` that no field has as its default."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return sample(next(a for a in args if a is not type(None)))
    if origin is Literal:
        return args[-1]
    if origin is list:
        return [sample(args[0])]
    if origin is dict:
        return {"k": sample(args[1])}
    if kind is Any:
        return "any"
    table: dict[Any, Any] = {
        bool: True,
        int: 1234,
        float: 12.5,
        str: "sample",
        Path: "/sample/path",
        SecretStr: "s3cr3t",
    }
    return table[kind]


def as_env(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "true" if value is True else str(value)


def plain(value: Any) -> Any:
    """What was read, in the shape it was given (secrets revealed, paths as text)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def field_of(name: str) -> tuple[BaseModel, str]:
    """The group model that holds variable `name`, and the field's name in it."""
    path = Settings.env_names()[name]
    model: BaseModel = Settings()
    for group in path:
        model = getattr(model, group)
    return model, name.removeprefix("INCIDENTFLOW_").lower()


def group_names(model: type[BaseModel]) -> set[str]:
    found: set[str] = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found |= {name, *group_names(kind)}
    return found


def test_no_variable_was_renamed_or_lost() -> None:
    read = Settings.env_names()
    assert len(OLD_NAMES) == 116
    assert sorted(set(OLD_NAMES) - set(read)) == []
    # A group's own name is never read as a variable, so it must not shadow one.
    groups = {f"INCIDENTFLOW_{g.upper()}" for g in group_names(Settings)}
    assert "INCIDENTFLOW_LOKI" in groups
    assert groups.isdisjoint(OLD_NAMES)


@pytest.mark.parametrize("name", OLD_NAMES)
def test_every_old_variable_still_sets_its_field(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, field = field_of(name)
    kind = type(model).model_fields[field].annotation
    value = BOUNDED.get(name) or sample(kind)
    monkeypatch.setenv(name, as_env(value))
    model, field = field_of(name)
    got = plain(getattr(model, field))
    want = value if name not in BOUNDED else type(got)(value)
    assert got == want, f"{name} -> {got!r}"
    default = type(model).model_fields[field].get_default(call_default_factory=True)
    assert plain(default) != got, f"{name}: the sample is the default and proves nothing"


def test_replace_sets_by_variable_name_and_reads_no_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = Settings()
    monkeypatch.setenv("INCIDENTFLOW_LOKI_TENANT", "from-env")
    moved = base.replace({"loki_url": "http://loki:3100", "llm_agents": "all", "environment": "e"})
    assert moved.sources.loki.loki_url == "http://loki:3100"
    assert moved.llm.llm_agents == "all"
    assert moved.environment == "e"
    assert moved.sources.loki.loki_tenant is None  # copied from base, not read again
    assert base.sources.loki.loki_url is None
    with pytest.raises(ValueError, match="INCIDENTFLOW_LOKI_TYPO"):
        base.replace({"loki_typo": 1})
    with pytest.raises(ValueError, match="greater than or equal to 10"):
        base.replace({"graph_refresh_seconds": 1})


def test_blank_still_means_unset_in_every_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OIDC_ISSUER", "DECISION_SIGNING_KEY", "API_TOKEN", "NOTIFY_SLACK_URL"):
        monkeypatch.setenv(f"INCIDENTFLOW_{name}", "  ")
    s = Settings()
    assert s.people.oidc_issuer is None
    assert s.decisions.decision_signing_key is None
    assert s.cli.api_token is None
    assert s.notify.notify_slack_url is None


BUILDERS: list[tuple[Callable[..., Any], type[BaseModel]]] = [
    (build_executors, ExecutorSettings),
    (build_engine, LlmSettings),
    (llm_config, LlmSettings),
    (evidence_sources, SourceSettings),
    (build_notifiers, NotifySettings),
    (configure_tracing, ProcessSettings),
    (runtime, ProcessSettings),
    (signer_from, DecisionSettings),
    (trust_from, DecisionSettings),
    (roles_from, DecisionSettings),
    (exposure_problem, IngestSettings),
    (Authenticator, PeopleSettings),
]


@pytest.mark.parametrize(("builder", "group"), BUILDERS, ids=lambda b: getattr(b, "__name__", ""))
def test_each_builder_takes_only_its_group(
    builder: Callable[..., Any], group: type[BaseModel]
) -> None:
    target = builder.__init__ if isinstance(builder, type) else builder
    # Annotations as written (modules use postponed evaluation): the group's name.
    params = [p for p in inspect.signature(target).parameters.values() if p.name != "self"]
    assert params[0].annotation == group.__name__
    assert all(p.annotation != "Settings" for p in params)


def test_no_test_hook_is_a_production_setting() -> None:
    assert [n for n in Settings.env_names() if "DRILL" in n] == []


def test_benchmark_knobs_default_to_production() -> None:
    # Production runs a worker per container: no niceness. `up` and the benchmark, one shared
    # host, set it for their own workers (incidentflow/cli/stack.py).
    assert ProcessSettings.model_fields["worker_nice"].default == 0
