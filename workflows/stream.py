"""AlertStreamWorkflow: the long-lived intake of one partition's alerts.

Deterministic orchestration only. It receives alert batches by signal (the webhook uses
signal-with-start), runs detection and correlation over each batch as activities, starts one
IncidentWorkflow per new incident and signals alerts that join an open one. It continues as new
before Temporal's per-run limits, carrying its open-incident index and unprocessed batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.correlation import CorrelationActivities
    from activities.detection import DetectionActivities
    from activities.stream_config import StreamConfigActivities
    from incidentflow.metrics import record_redelivered_batch
    from incidentflow.models import (
        Alert,
        AlertBatch,
        AlertBatches,
        AlertsResolved,
        CorrelationInput,
        CorrelationResult,
        Detection,
        GoneIncident,
        Incident,
        IncidentClosed,
        IncidentMoved,
        IncidentUpdate,
        OpenIncident,
        QuarantinedAlerts,
        StreamConfig,
        StreamInput,
        StreamStats,
    )
    from workflows import policies
    from workflows.names import (
        ALERT_BATCHES_SIGNAL,
        ALERTS_SIGNAL,
        INCIDENT_CLOSED_SIGNAL,
        INCIDENT_MOVED_SIGNAL,
    )
    from workflows.stream_incidents import open_incident, signal_joined, signal_resolved
    from workflows.stream_index import (
        after_end,
        alert_weight,
        all_resolved,
        apply_move,
        apply_update,
        halves,
        index_for,
        keep_latest,
        note_transitions,
        quarantine_record,
        quiet_to_refeed,
        release_carried,
        settle_quiet,
        take_round,
        without_raw,
    )

# Batch ids remembered to drop a redelivered batch; old ones age out (idempotency at the
# alert level is correlation's job, by fingerprint).
SEEN_BATCHES_KEPT = 2_000
# Temporal caps a run at 10,000 signals; hand over well before.
MAX_SIGNALS_PER_RUN = 9_000
# Alerts merged into one detect/correlate round: bounds each activity payload (Temporal refuses
# payloads over 2 MB; a detection is about twice its alert) while a burst correlates together
# and a storm takes few rounds.
MAX_MERGED_ALERTS = 2_000
MAX_MERGED_BYTES = 600 * 1024
# Pending alerts a hand-over may carry in its input, as JSON before compression (Temporal's
# limit is 2 MB after it; incidentflow.codec takes alert JSON down at least fourfold); with more,
# the stream keeps processing first.
CARRY_MAX_BYTES = 4 * 1024 * 1024
# Past this history length or size the stream hands over whatever is pending (the server
# terminates a run at 51,200 events or 50 MB).
FORCE_HAND_OVER_EVENTS = 40_000
FORCE_HAND_OVER_BYTES = 30 * 1024 * 1024


class _AgentFailed(Exception):
    """Detection or correlation failed for good on a round (retrying could not fix it)."""

    def __init__(self, stage: str, err: ActivityError) -> None:
        super().__init__(stage)
        self.stage = stage
        self.reason = str(err.cause or err)


@workflow.defn(name="AlertStreamWorkflow")
class AlertStreamWorkflow:
    """One per partition (`alerts-<environment>`): batches in, incidents out."""

    @workflow.init
    def __init__(self, inp: StreamInput) -> None:
        # Only what identifies the stream is kept of the input: the rest is copied into state
        # below, and the input's containers are emptied at the end (the SDK holds the input
        # until the run ends, which would pin its carried batches for the whole run).
        self._environment = inp.environment
        self._hand_over_after = inp.continue_as_new_after_events
        self._pending: list[AlertBatch] = [without_raw(b) for b in inp.pending]
        # Sizes kept as batches come and go: the hand-over check runs after every activation.
        self._pending_alerts = sum(len(b.alerts) for b in self._pending)
        self._pending_weight = sum(alert_weight(b) for b in self._pending)
        self._seen: list[str] = list(inp.seen_batches)
        self._seen_set: set[str] = set(self._seen)
        self._open: dict[str, OpenIncident] = {o.id: o for o in inp.open_incidents}
        self._signals = 0
        self._processed_batches = 0
        self._stats: StreamStats = inp.stats
        self._transitions = {fp: list(ts) for fp, ts in inp.transitions.items()}
        self._quiet = {d.alert.fingerprint: d for d in inp.quiet}
        self._quarantined: list[QuarantinedAlerts] = list(inp.quarantined)
        self._gone: list[GoneIncident] = list(inp.gone)
        # Read from the worker's settings when the run starts and once older than its own
        # refresh age (issue 17 item 5): nothing of it rides in the input.
        self._config: StreamConfig | None = None
        self._config_read_at: datetime | None = None
        release_carried(inp)

    @workflow.signal(name=ALERTS_SIGNAL)
    def alerts(self, batch: AlertBatch) -> None:
        """A batch accepted at the edge; a redelivered batch id is ignored."""
        self._signals += 1
        self._receive(batch)

    def _receive(self, batch: AlertBatch) -> None:
        if batch.batch_id in self._seen_set:
            workflow.logger.info("batch %s already received; ignoring", batch.batch_id)
            record_redelivered_batch(len(batch.alerts))
            return
        self._remember(batch.batch_id)
        self._pending.append(without_raw(batch))
        self._pending_alerts += len(batch.alerts)
        self._pending_weight += alert_weight(batch)
        self._count(batches=1, alerts_received=len(batch.alerts))

    @workflow.signal(name=ALERT_BATCHES_SIGNAL)
    def alert_batches(self, group: AlertBatches) -> None:
        """Several deliveries the edge committed together; each is one batch as above."""
        self._signals += 1
        for batch in group.batches:
            self._receive(batch)

    @workflow.signal(name=INCIDENT_CLOSED_SIGNAL)
    def incident_closed(self, msg: IncidentClosed) -> None:
        """An incident finished: new alerts for its services open a new incident."""
        self._signals += 1
        self._open.pop(msg.incident_id, None)

    @workflow.signal(name=INCIDENT_MOVED_SIGNAL)
    def incident_moved(self, msg: IncidentMoved) -> None:
        """A person merged or split incidents: move the alerts between index entries."""
        self._signals += 1
        apply_move(self._open, msg, workflow.now())

    @workflow.query(name="stats")
    def stats(self) -> StreamStats:
        """Every alert accounted for: received, processed, opened, joined, dropped."""
        return self._stats

    @workflow.query(name="open_incidents")
    def open_incidents(self) -> list[OpenIncident]:
        """The open-incident index correlation joins new alerts against."""
        return list(self._open.values())

    @workflow.query(name="quarantine")
    def quarantine(self) -> list[QuarantinedAlerts]:
        """Rounds no agent could process, with the error (the latest RECORDS_KEPT)."""
        return self._quarantined

    @workflow.query(name="gone")
    def gone(self) -> list[GoneIncident]:
        """Incidents found ended when signalled; their alerts were correlated again."""
        return self._gone

    @workflow.query(name="backlog")
    def backlog(self) -> int:
        """Alerts received and not yet processed: the edge answers 503 above its limit."""
        return self._pending_alerts

    @workflow.query(name="pending_batches")
    def pending_batches(self) -> int:
        """Batches received and not yet processed."""
        return len(self._pending)

    @workflow.run
    async def run(self, inp: StreamInput) -> None:
        """Process batches forever, handing over to a new run before the history limits."""
        del inp  # state was built from it in __init__; see there
        while True:
            await workflow.wait_condition(lambda: bool(self._pending) or self._should_hand_over())
            config = await self._read_config()
            if self._pending and config.settle_seconds > 0 and not self._should_hand_over():
                # The settle window (Alertmanager's group_wait): an alert that resolves
                # before it ends arrives in the same merged batch and opens nothing.
                await workflow.sleep(timedelta(seconds=config.settle_seconds))
            if self._pending:
                batch = self._take_pending()
                await self._process(batch)
                self._processed_batches += 1
            if self._should_hand_over():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.logger.info(
                    "continuing as new after %d batches, carrying %d open incidents and %d "
                    "pending batches",
                    self._processed_batches,
                    len(self._open),
                    len(self._pending),
                )
                workflow.continue_as_new(
                    StreamInput(
                        environment=self._environment,
                        continue_as_new_after_events=self._hand_over_after,
                        open_incidents=list(self._open.values()),
                        pending=list(self._pending),
                        seen_batches=list(self._seen),
                        stats=self._stats.model_copy(update={"runs": self._stats.runs + 1}),
                        transitions=self._transitions,
                        quiet=list(self._quiet.values()),
                        quarantined=self._quarantined,
                        gone=self._gone,
                    )
                )

    async def _read_config(self) -> StreamConfig:
        """The stream's settings as its worker has them, read again once they are old."""
        now = workflow.now()
        if (
            self._config is None
            or self._config_read_at is None
            or (now - self._config_read_at).total_seconds() >= self._config.refresh_seconds
        ):
            self._config = await workflow.execute_activity_method(
                StreamConfigActivities.stream_config,
                self._environment,
                # The one queue the stream knows without configuration: its own.
                task_queue=workflow.info().task_queue,
                start_to_close_timeout=policies.CONFIG_TIMEOUT,
                retry_policy=policies.STREAM_RETRY,
                summary="read the stream's settings",
            )
            self._config_read_at = now
        return self._config

    def _take_pending(self) -> AlertBatch:
        """Batches waiting now, up to a round's size, merged: a burst correlates together."""
        batch, self._pending, weight = take_round(
            self._pending,
            max_alerts=MAX_MERGED_ALERTS,
            max_bytes=MAX_MERGED_BYTES,
        )
        self._pending_alerts -= len(batch.alerts)
        self._pending_weight -= weight
        return batch

    async def _process(self, batch: AlertBatch) -> None:
        recent = note_transitions(self._transitions, batch, workflow.now())
        if recent:
            batch = batch.model_copy(update={"recent_transitions": recent})
        await self._round(batch)

    async def _round(self, batch: AlertBatch) -> None:
        """Detect, correlate and hand out one round; a round an agent cannot process is cut
        in halves until the alerts it cannot process are quarantined on their own."""
        try:
            detections, refed, correlation = await self._analyse(batch)
        except _AgentFailed as failed:
            if workflow.cancellation_reason() is not None:
                raise  # the stream itself was cancelled: not the alerts' fault
            if len(batch.alerts) > 1:
                for part in halves(batch):
                    await self._round(part)
                return
            self._quarantine(batch, failed)
            return
        rescued = settle_quiet(self._quiet, refed, detections, correlation)
        held = {d.alert.fingerprint for d in refed}
        for incident in correlation.new_incidents:
            await self._open_incident(incident, correlation, [*detections, *refed])
        gone: set[str] = set()
        joined = 0
        for update in correlation.updates:
            known = self._open.get(update.incident_id)
            if known is not None and not await self._join(known, update):
                gone |= {*known.fingerprints, *(a.fingerprint for a in update.alerts)}
            else:
                joined += len(update.alerts)
        # Alerts meant for an incident that had ended go round again: the index no longer
        # holds it, so they open a new incident (or join another open one).
        again = after_end(batch, gone)
        if again:
            self._requeue(batch, again)
        requeued = {a.fingerprint for a in again}
        # Counted once the index holds the round (the awaits above let queries in between):
        # `stats` never says processed before `open_incidents` shows where the alerts went.
        self._count(
            alerts_processed=len(batch.alerts) - len(again),
            incidents_opened=len(correlation.new_incidents),
            alerts_joined=joined,
            # Held quiet alerts were counted dropped once; those now in an incident come back.
            alerts_dropped=sum(
                d.alert.fingerprint not in held and d.alert.fingerprint not in requeued
                for d in correlation.dropped
            )
            - rescued,
            alerts_after_end=len(again),
        )

    async def _analyse(
        self, batch: AlertBatch
    ) -> tuple[list[Detection], list[Detection], CorrelationResult]:
        """Detections, held quiet alerts fed again, and correlation's result for `batch`."""
        try:
            detections = await workflow.execute_activity_method(
                DetectionActivities.detect,
                batch,
                task_queue=self._agent_queue(),
                start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
                retry_policy=policies.STREAM_RETRY,
                summary=f"detect {len(batch.alerts)} alert(s)",
            )
        except ActivityError as err:
            raise _AgentFailed("detect", err) from err
        refed = quiet_to_refeed(self._quiet, batch, workflow.now())
        try:
            correlation = await workflow.execute_activity_method(
                CorrelationActivities.correlate,
                CorrelationInput(
                    environment=self._environment,
                    detections=[*detections.detections, *refed],
                    open_incidents=index_for(list(self._open.values()), batch),
                ),
                task_queue=self._agent_queue(),
                start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
                retry_policy=policies.STREAM_RETRY,
                summary=f"correlate against {len(self._open)} open incident(s)",
            )
        except ActivityError as err:
            # A held quiet alert in a round that cannot be processed may be the cause: it is
            # not held any longer (it was counted dropped when first held).
            for det in refed:
                self._quiet.pop(det.alert.fingerprint, None)
            raise _AgentFailed("correlate", err) from err
        return detections.detections, refed, correlation

    async def _join(self, known: OpenIncident, update: IncidentUpdate) -> bool:
        """Deliver joined alerts to an open incident; False when it had ended meanwhile."""
        entry = apply_update(known, update)
        self._open[update.incident_id] = entry
        why = await signal_joined(update)
        if why is not None:
            self._incident_gone(update.incident_id, why, len(update.alerts))
            return False
        newly = all_resolved(entry) and not all_resolved(known)
        if newly:
            why = await signal_resolved(
                AlertsResolved(
                    incident_id=entry.id, at=workflow.now(), fingerprints=entry.fingerprints
                )
            )
            if why is not None:
                # The alerts got there; only the incident ended before hearing they resolved.
                self._incident_gone(update.incident_id, why, 0)
        return True

    def _incident_gone(self, incident_id: str, why: str, alerts: int) -> None:
        workflow.logger.warning("incident %s had ended (%s); not joining it", incident_id, why)
        self._open.pop(incident_id, None)
        self._gone = keep_latest(
            self._gone,
            GoneIncident(
                incident_id=incident_id, at=workflow.now(), error=why, alerts_after_end=alerts
            ),
        )
        self._count(incidents_gone=1)

    def _requeue(self, batch: AlertBatch, alerts: list[Alert]) -> None:
        again = AlertBatch(
            batch_id=f"after-end-{workflow.uuid4().hex}",
            environment=batch.environment,
            received_at=batch.received_at,
            alerts=alerts,
        )
        self._pending.insert(0, again)
        self._pending_alerts += len(alerts)
        self._pending_weight += alert_weight(again)

    def _quarantine(self, batch: AlertBatch, failed: _AgentFailed) -> None:
        record = quarantine_record(
            batch, stage=failed.stage, error=failed.reason, at=workflow.now()
        )
        workflow.logger.warning(
            "quarantined %d alert(s) of batch %s: %s",
            len(batch.alerts),
            record.batch_id,
            record.error,
        )
        self._quarantined = keep_latest(self._quarantined, record)
        self._count(alerts_processed=len(batch.alerts), alerts_quarantined=len(batch.alerts))

    async def _open_incident(
        self, incident: Incident, correlation: CorrelationResult, detections: list[Detection]
    ) -> None:
        entry = await open_incident(
            incident,
            correlation,
            detections,
            config=self._current_config(),
            stream_workflow_id=workflow.info().workflow_id,
        )
        self._open[entry.id] = entry

    def _current_config(self) -> StreamConfig:
        # Every round starts with _read_config: a round never runs without it. Were that ever
        # broken, failing the workflow task (retried, visible in the UI) is the right outcome.
        if self._config is None:
            raise RuntimeError(f"{self._environment}: stream settings used before they were read")
        return self._config

    def _agent_queue(self) -> str:
        return self._current_config().agent_queue

    def _count(self, **add: int) -> None:
        self._stats = self._stats.model_copy(
            update={k: getattr(self._stats, k) + v for k, v in add.items()}
        )

    def _remember(self, batch_id: str) -> None:
        self._seen.append(batch_id)
        self._seen_set.add(batch_id)
        if len(self._seen) > SEEN_BATCHES_KEPT:
            old = self._seen.pop(0)
            self._seen_set.discard(old)

    def _should_hand_over(self) -> bool:
        info = workflow.info()
        length = info.get_current_history_length()
        wanted = (
            length >= FORCE_HAND_OVER_EVENTS
            or info.get_current_history_size() >= FORCE_HAND_OVER_BYTES
            or self._signals >= MAX_SIGNALS_PER_RUN
            or info.is_continue_as_new_suggested()
            or length >= self._hand_over_after
        )
        # The backlog rides in the next run's input (2 MB at most): drain it below the carry
        # limit first; the edge's backpressure (503 over its backlog limit) lets it drain.
        if not wanted:
            return False
        return self._pending_weight <= CARRY_MAX_BYTES
