"""Schemathesis over the OpenAPI document the running webhook serves, bounded in time.

Issue 14: a schemathesis run found the year-1 poison alert on `production` without aiming.
This keeps such a run in the suite: the real `serve-webhook` process against the session's dev
server, every operation of its served `/openapi.json` (alert sources, codec, health), data that
fits the schemas and data that does not. No answer may be a 5xx, and every answer must be one
the document declares, in the declared content type and shape.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidentflow.temporal import DevServer, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
# The whole run stops sending after this long, whatever hypothesis still wants to try.
BUDGET_S = 90.0
EXAMPLES_PER_OPERATION = 150
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(dev_server: DevServer, tmp_path: Path) -> Iterator[str]:
    """`incidentflow serve-webhook` as it runs in production, on a free loopback port."""
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")} | {
        "INCIDENTFLOW_TEMPORAL_ADDRESS": dev_server.address,
        "INCIDENTFLOW_WEBHOOK_PORT": str(port),
        "INCIDENTFLOW_DATA_DIR": str(tmp_path / "data"),
        "INCIDENTFLOW_TASK_QUEUE_PREFIX": f"st{tag}-",
        "INCIDENTFLOW_ENVIRONMENT": f"st-{tag}",
        # Every alert lands in this test's own stream, whatever labels are generated.
        "INCIDENTFLOW_PARTITION_LABELS": "[]",
        "INCIDENTFLOW_LOG_FORMAT": "json",
    }
    log = (tmp_path / "webhook.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "starter.py", "serve-webhook"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert proc.poll() is None and time.monotonic() < deadline, "not listening"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undeclared_answer(served: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/alerts/generic", "POST /codec/decode", "GET /readyz"} <= labels, labels
    end = time.monotonic() + BUDGET_S
    sent: dict[str, int] = {}
    statuses: dict[int, int] = {}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategy = st.one_of(
        *(op.as_strategy(generation_mode=mode) for op in operations for mode in modes)
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION * len(operations),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        if time.monotonic() > end:
            return
        response = case.call(base_url=served, timeout=30)
        sent[case.operation.label] = sent.get(case.operation.label, 0) + 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    run()
    assert set(sent) == labels, f"operations never reached: {labels - set(sent)}"
    assert statuses.get(202, 0) > 0 and statuses.get(422, 0) > 0, statuses
