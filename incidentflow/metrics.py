"""Metrics: Temporal's SDK metrics and IncidentFlow's own on one Prometheus endpoint per process.

Off unless `INCIDENTFLOW_METRICS_BIND` (host:port) is set. Then the SDK's runtime serves
`http://<bind>/metrics`, and our metrics are recorded through the SDK's metric meter, so the
same endpoint carries both. Why the SDK's meter and not prometheus-client: one exporter and one
port per process, and workflow code can record through `workflow.metric_meter()`, which records
nothing while a history replays (a worker restart or a cache eviction counts nothing twice).

Where each metric is recorded (docs/production.md lists names and labels):
- ingest: alerts received and webhook answers, on the runtime's meter;
- agents' worker: detection and correlation decisions, deduplicated alerts, time to proposal,
  counted by `MetricsInterceptor` as each agent's artifact leaves its activity;
- remediation worker: actions and their outcome, by the same interceptor;
- workflows worker: verification verdicts (the incident workflow decides them) and incidents
  by state, counted from Temporal visibility (see `report_incident_states`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
)
from temporalio.worker import Interceptor as WorkerInterceptor

from incidentflow.errors import ConfigError
from incidentflow.models import (
    ActionResult,
    CorrelationInput,
    CorrelationResult,
    DetectionResult,
    ExecuteInput,
    IncidentState,
    PlanInput,
    RemediationPlan,
)
from incidentflow.settings import ProcessSettings, Settings

log = logging.getLogger("incidentflow.metrics")

# Metric names (counters get `_total` on the endpoint).
ALERTS_RECEIVED = "incidentflow_alerts_received"
WEBHOOK_REQUESTS = "incidentflow_webhook_requests"
ALERTS_DEDUPLICATED = "incidentflow_alerts_deduplicated"
DETECTIONS = "incidentflow_detections"
CORRELATION_DECISIONS = "incidentflow_correlation_decisions"
INCIDENTS_OPENED = "incidentflow_incidents_opened"
TIME_TO_PROPOSAL = "incidentflow_time_to_proposal_seconds"
REMEDIATION_ACTIONS = "incidentflow_remediation_actions"
VERIFICATIONS = "incidentflow_verifications"
INCIDENTS = "incidentflow_incidents"

# From a page to a plan: seconds for the agents, up to an hour when a person takes over.
PROPOSAL_BUCKETS = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]

# One runtime per bind address for the life of the process: a runtime owns its exporter's
# port, and every client of the process (and the workers built on it) must share it.
_RUNTIMES: dict[str, Runtime] = {}


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"INCIDENTFLOW_METRICS_BIND={bind!r} must be host:port, e.g. 0.0.0.0:9464"
        )
    return host, int(port)


def runtime(process: ProcessSettings) -> Runtime | None:
    """The Temporal runtime serving /metrics on INCIDENTFLOW_METRICS_BIND; None when unset."""
    bind = process.metrics_bind
    if not bind:
        return None
    found = _RUNTIMES.get(bind)
    if found is not None:
        return found
    _split_bind(bind)
    prometheus = PrometheusConfig(
        bind_address=bind,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={TIME_TO_PROPOSAL: PROPOSAL_BUCKETS},
    )
    try:
        found = Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except (ValueError, RuntimeError) as err:
        raise ConfigError(
            f"cannot serve metrics on INCIDENTFLOW_METRICS_BIND={bind}: {err}"
        ) from err
    _RUNTIMES[bind] = found
    return found


def shifted_bind(bind: str, offset: int) -> str:
    """`host:port` moved `offset` ports up: `up` gives each worker process its own endpoint."""
    host, port = _split_bind(bind)
    return f"{host}:{port + offset}"


def process_meter(process: ProcessSettings) -> MetricMeter:
    """This process's meter: the metrics runtime's, or one that records nothing."""
    rt = runtime(process)
    return rt.metric_meter if rt is not None else MetricMeter.noop


class IngestMetrics:
    """What the webhook counts: every answer, and the alerts of accepted deliveries."""

    def __init__(self, meter: MetricMeter) -> None:
        self._requests = meter.create_counter(
            WEBHOOK_REQUESTS, "Webhook answers by source and HTTP status"
        )
        self._alerts = meter.create_counter(
            ALERTS_RECEIVED, "Alerts in deliveries Temporal accepted, by source"
        )

    def answered(self, source: str, status: int) -> None:
        """One webhook answer."""
        self._requests.add(1, {"source": source, "code": str(status)})

    def received(self, source: str, alerts: int) -> None:
        """Alerts of a batch Temporal recorded."""
        self._alerts.add(alerts, {"source": source})


# -- agents and actions: counted as their artifacts leave the activity ---------------------


def _detections(result: DetectionResult) -> None:
    counter = activity.metric_meter().create_counter(
        DETECTIONS, "Alerts classified by detection, by severity and verdict"
    )
    # One add per label set, not per alert: a storm's batch holds hundreds of alerts.
    tally = Counter(
        (d.severity.value, "noise" if d.noise else "flapping" if d.flapping else "alert")
        for d in result.detections
    )
    for (severity, verdict), count in tally.items():
        counter.add(count, {"severity": severity, "verdict": verdict})


def _correlation(inp: CorrelationInput, result: CorrelationResult) -> None:
    meter = activity.metric_meter()
    # The same fingerprint twice in one batch, and a delivery of an alert an open incident
    # already holds: both are kept once (the HA pair of Alertmanagers is the usual cause).
    in_batch = len(inp.detections) - len({d.alert.fingerprint for d in inp.detections})
    across = sum(len(u.duplicates) for u in result.updates)
    duplicates = in_batch + across
    decisions = {
        "new_incident": sum(len(i.alerts) for i in result.new_incidents),
        "joined": sum(len(u.alerts) for u in result.updates),
        "duplicate": duplicates,
        "dropped": len(result.dropped) - duplicates,
    }
    counter = meter.create_counter(
        CORRELATION_DECISIONS, "Alert deliveries by correlation decision"
    )
    for decision, count in decisions.items():
        if count:
            counter.add(count, {"decision": decision})
    if duplicates:
        meter.create_counter(ALERTS_DEDUPLICATED, "Alert deliveries kept once").add(
            duplicates, {"kind": "alert"}
        )
    if result.new_incidents:
        meter.create_counter(INCIDENTS_OPENED, "Incidents correlation opened").add(
            len(result.new_incidents)
        )


def _proposal(inp: PlanInput, plan: RemediationPlan) -> None:
    if plan.action is None:
        return
    opened = inp.incident.opened_at
    seconds = max((datetime.now(UTC) - opened).total_seconds(), 0.0)
    activity.metric_meter().create_histogram_float(
        TIME_TO_PROPOSAL, "From an incident's first alert to a proposed action", "s"
    ).record(seconds, {"severity": inp.incident.severity.value})


def _action(inp: ExecuteInput, outcome: str, executor: str) -> None:
    params = inp.action.undo if inp.undo else inp.action.params
    activity.metric_meter().create_counter(
        REMEDIATION_ACTIONS, "Remediation actions and undos run, by outcome"
    ).add(
        1,
        {
            "kind": params.kind,
            "executor": executor,
            "undo": "true" if inp.undo else "false",
            "outcome": outcome,
        },
    )


def observe(inp: Any, result: Any) -> None:
    """Record what an agent or an executor emitted (dispatch on the artifact's type)."""
    if isinstance(result, DetectionResult):
        _detections(result)
    elif isinstance(result, CorrelationResult) and isinstance(inp, CorrelationInput):
        _correlation(inp, result)
    elif isinstance(result, RemediationPlan) and isinstance(inp, PlanInput):
        _proposal(inp, result)
    elif isinstance(result, ActionResult) and isinstance(inp, ExecuteInput):
        _action(inp, result.status.value, result.executor)


class _ActivityMetrics(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        first = input.args[0] if input.args else None
        try:
            result = await self.next.execute_activity(input)
        except Exception:
            if isinstance(first, ExecuteInput):
                _action(first, "error", first.action.executor)
            raise
        try:
            observe(first, result)
        except Exception:  # a metric must never fail the step it observes
            log.exception("could not record metrics for %s", activity.info().activity_type)
        return result


class MetricsInterceptor(ClientInterceptor, WorkerInterceptor):
    """Counts agent decisions and actions from the artifacts activities return.

    A client interceptor too, so workers built from our clients inherit it (as they inherit
    tracing); with metrics off the SDK's meter records nothing and this costs a type check.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityMetrics(next)


# -- what the incident workflow decides --------------------------------------------------


def record_verification(kind: str, status: str) -> None:
    """Count a verification verdict. Workflow code only: nothing is recorded during replay."""
    workflow.metric_meter().create_counter(
        VERIFICATIONS, "Verification verdicts of executed actions"
    ).add(1, {"kind": kind, "status": status})


def record_redelivered_batch(alerts: int) -> None:
    """Count a batch the stream had already received (the same delivery twice). Workflow code
    only: for `AlertStreamWorkflow.alerts` where it ignores a known batch id."""
    workflow.metric_meter().create_counter(ALERTS_DEDUPLICATED, "Alert deliveries kept once").add(
        alerts, {"kind": "batch"}
    )


# -- incidents by state, from visibility ---------------------------------------------------


async def count_incidents_by_state(client: Client, settings: Settings) -> dict[IncidentState, int]:
    """How many incidents are in each state, as Temporal's visibility store says.

    Live states count running workflows only (a terminated one keeps its last state);
    terminal states count every incident the namespace still retains.
    """
    base = f"WorkflowType = 'IncidentWorkflow' AND TaskQueue = '{settings.temporal.workflow_queue}'"

    async def count(state: IncidentState) -> int:
        query = f"{base} AND IncidentState = '{state.value}'"
        if not state.terminal:
            query += " AND ExecutionStatus = 'Running'"
        return (await client.count_workflows(query)).count

    states = list(IncidentState)
    counts = await asyncio.gather(*(count(s) for s in states))
    return dict(zip(states, counts, strict=True))


async def report_incident_states(client: Client, settings: Settings) -> None:
    """Set the incidents-by-state gauge from visibility every METRICS_STATE_INTERVAL_SECONDS.

    Counted, not tracked: the server's visibility store survives worker restarts and sees the
    incidents of every worker, where a count kept by workflows would be lost with a process
    (and replay, which records no metrics, could not rebuild it). Runs until cancelled.
    """
    gauge = process_meter(settings.process).create_gauge(INCIDENTS, "Incidents by IncidentState")
    labels = {"task_queue": settings.temporal.workflow_queue}
    while True:
        try:
            counts = await count_incidents_by_state(client, settings)
        except Exception as err:  # a reporter must outlive a server that is briefly away
            log.warning("could not count incidents by state: %s", err)
        else:
            for state, count in counts.items():
                gauge.set(count, {**labels, "state": state.value})
        await asyncio.sleep(settings.process.metrics_state_interval_seconds)
