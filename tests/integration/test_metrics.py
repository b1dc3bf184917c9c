"""The real Prometheus scrapes each process's metrics endpoint after the demo incident ran
through the real pipeline: the ingest app (in this process) and both workers (real processes),
each on its own INCIDENTFLOW_METRICS_BIND. Values are read back through Prometheus's query API
and compared with what the incident's own record says happened.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import app_stack, make_settings
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from prometheus_peer import eventually, running_prometheus, scalar
from test_durability import Procs, worker_env

from incidentflow.client import IncidentClient
from incidentflow.errors import ConfigError
from incidentflow.metrics import runtime, shifted_bind
from incidentflow.models import DecisionRequest, IncidentState
from incidentflow.settings import ProcessSettings
from incidentflow.temporal import DevServer, connect, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Procs]:
    """Worker processes of this test, killed when it ends."""
    started = Procs(tmp_path / "logs")
    yield started
    for proc in started.started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _equals(expected: float) -> Callable[[float | None], bool]:
    return lambda value: value == expected


async def test_prometheus_scrapes_ours_and_the_sdks_from_ingest_and_workers(
    dev_server: DevServer, tmp_path: Path, workers: Procs
) -> None:
    binds = {job: f"127.0.0.1:{free_port()}" for job in ("ingest", "worker", "remediation")}
    settings = make_settings(dev_server.address, tmp_path / "data", metrics_bind=binds["ingest"])
    for queue, job in (("default", "worker"), ("remediation", "remediation")):
        env = worker_env(
            settings,
            INCIDENTFLOW_METRICS_BIND=binds[job],
            INCIDENTFLOW_METRICS_STATE_INTERVAL_SECONDS="1",
        )
        workers.start(queue, env, job)
    client = await connect(settings, serve_metrics=True)  # the ingest process's client
    jobs = {job: [bind] for job, bind in binds.items()}
    with running_prometheus(tmp_path / "prometheus", jobs) as prom:
        payloads = demo_payloads()
        async with app_stack(settings, client, queues=()) as stack:
            for payload in payloads:
                assert (await stack.post_alertmanager(payload)).status_code == 202
        incident_id = await wait_for_incident(
            client, settings, fingerprints_of(payloads, DEMO_ORIGIN)
        )
        await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
        await IncidentClient(client).decide(
            incident_id, approve=True, request=DecisionRequest(by="alice", reason="ok")
        )
        record = await wait_for_state(client, incident_id, {IncidentState.CLOSED})
        queue = settings.temporal.workflow_queue
        opened = await client.count_workflows(
            f"WorkflowType = 'IncidentWorkflow' AND TaskQueue = '{queue}'"
        )

        alerts = sum(len(p["alerts"]) for p in payloads)
        # The webhook: every delivery answered 202, every alert counted once, by source.
        await eventually(
            prom,
            'incidentflow_webhook_requests_total{job="ingest",source="alertmanager",code="202"}',
            _equals(len(payloads)),
        )
        await eventually(
            prom,
            'incidentflow_alerts_received_total{job="ingest",source="alertmanager"}',
            _equals(alerts),
        )
        # Detection saw every alert; correlation decided once per delivery; the HA pair's
        # second delivery is the incident's recorded duplicate.
        await eventually(prom, 'sum(incidentflow_detections_total{job="worker"})', _equals(alerts))
        await eventually(
            prom, 'sum(incidentflow_correlation_decisions_total{job="worker"})', _equals(alerts)
        )
        duplicates = len(record.incident.duplicates)
        assert duplicates >= 1, "the demo's HA pair must produce a duplicate"
        await eventually(
            prom, 'incidentflow_alerts_deduplicated_total{job="worker"}', _equals(duplicates)
        )
        await eventually(
            prom, 'incidentflow_incidents_opened_total{job="worker"}', _equals(opened.count)
        )
        # One plan proposed, after the first alert and not in the future.
        await eventually(
            prom, 'incidentflow_time_to_proposal_seconds_count{job="worker"}', _equals(1)
        )
        proposal_s = await scalar(prom, 'incidentflow_time_to_proposal_seconds_sum{job="worker"}')
        assert proposal_s is not None and proposal_s > 0
        # The remediation worker ran the approved action once; the workflow judged it.
        assert record.plan is not None and record.plan.action is not None
        action = record.plan.action
        await eventually(
            prom,
            'incidentflow_remediation_actions_total{job="remediation",outcome="ok",'
            f'kind="{action.params.kind}",executor="dry-run",undo="false"}}',
            _equals(1),
        )
        assert record.verification is not None
        await eventually(
            prom,
            f'incidentflow_verifications_total{{job="worker",status="{record.verification.status}",'
            f'kind="{action.verify.kind}"}}',
            _equals(1),
        )
        # Incidents by state, counted from visibility by the workflows worker.
        await eventually(
            prom,
            f'incidentflow_incidents{{job="worker",state="closed",'
            f'task_queue="{settings.temporal.workflow_queue}"}}',
            _equals(1),
        )
        await eventually(
            prom, 'sum(incidentflow_incidents{job="worker",state!="closed"})', _equals(0)
        )
        # Temporal's own SDK metrics on the same endpoints.
        await eventually(
            prom,
            'sum(temporal_workflow_completed_total{job="worker",workflow_type="IncidentWorkflow"})',
            _equals(1),
        )
        await eventually(
            prom,
            'sum(temporal_request_total{job="ingest",operation="SignalWithStartWorkflowExecution"})',
            lambda value: value is not None and value >= len(payloads),
        )


def test_compose_gives_every_process_a_metrics_endpoint() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("workflow-worker", "agent-worker", "remediation-worker", "ingest"):
        env = services[name]["environment"]
        host, _, port = str(env["INCIDENTFLOW_METRICS_BIND"]).rpartition(":")
        assert host == "0.0.0.0", (name, "listen beyond the container's loopback")
        assert port in [str(p) for p in services[name].get("expose", [])], name


def test_a_bad_or_taken_bind_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INCIDENTFLOW_METRICS_BIND='9464' must be host:port"):
        runtime(ProcessSettings(metrics_bind="9464"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(
            ConfigError, match=f"cannot serve metrics on INCIDENTFLOW_METRICS_BIND={bind}"
        ):
            runtime(ProcessSettings(metrics_bind=bind))
    assert runtime(ProcessSettings()) is None
    assert shifted_bind("0.0.0.0:9464", 2) == "0.0.0.0:9466"
