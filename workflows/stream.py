"""AlertStreamWorkflow: the long-lived intake of one partition's alerts.

Deterministic orchestration only. It receives alert batches by signal (the webhook uses
signal-with-start), runs detection and correlation over each batch as activities, starts one
IncidentWorkflow per new incident and signals alerts that join an open one. It continues as new
before Temporal's per-run limits, carrying its open-incident index and unprocessed batches.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.correlation import CorrelationActivities
    from activities.detection import DetectionActivities
    from incidentflow.metrics import record_redelivered_batch
    from incidentflow.models import (
        AlertBatch,
        AlertBatches,
        AlertMember,
        AlertsResolved,
        CorrelationInput,
        CorrelationResult,
        Detection,
        Incident,
        IncidentClosed,
        IncidentInput,
        IncidentMoved,
        OpenIncident,
        StreamInput,
        StreamStats,
    )
    from workflows import policies
    from workflows.incident import IncidentWorkflow
    from workflows.incident_start import incident_start_fields
    from workflows.names import (
        ALERT_BATCHES_SIGNAL,
        ALERTS_SIGNAL,
        INCIDENT_CLOSED_SIGNAL,
        INCIDENT_MOVED_SIGNAL,
    )
    from workflows.stream_index import (
        alert_weight,
        all_resolved,
        apply_update,
        capped_members,
        index_for,
        note_transitions,
        quiet_to_refeed,
        settle_quiet,
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
# Before rounds were sized by bytes (runs without the patch marker replay with these).
OLD_MAX_MERGED_ALERTS = 200
OLD_CARRY_MAX_ALERTS = 1_200
ROUNDS_BY_BYTES_PATCH = "stream-rounds-by-bytes"
# Patch marker: a lone warning dropped as too quiet is correlated again with later alerts.
QUIET_REFEED_PATCH = "stream-quiet-refeed"
# Pending alerts a hand-over may carry in its input, as JSON before compression (Temporal's
# limit is 2 MB after it; incidentflow.codec takes alert JSON down at least fourfold); with more,
# the stream keeps processing first.
CARRY_MAX_BYTES = 4 * 1024 * 1024
# Past this history length or size the stream hands over whatever is pending (the server
# terminates a run at 51,200 events or 50 MB).
FORCE_HAND_OVER_EVENTS = 40_000
FORCE_HAND_OVER_BYTES = 30 * 1024 * 1024
# Patch marker: streams tell an incident when all its alerts resolved (issue 3).
ALL_RESOLVED_PATCH = "stream-all-resolved-signal"


def _acknowledge(child: asyncio.Future[Any]) -> None:
    if not child.cancelled() and child.exception() is not None:
        workflow.logger.info("incident workflow ended: %s", child.exception())


@workflow.defn(name="AlertStreamWorkflow")
class AlertStreamWorkflow:
    """One per partition (`alerts-<environment>`): batches in, incidents out."""

    @workflow.init
    def __init__(self, inp: StreamInput) -> None:
        self._inp = inp
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
        self._by_bytes = False
        self._refeed = False
        self._quiet = {d.alert.fingerprint: d for d in inp.quiet}

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
        moved = {a.fingerprint for a in msg.alerts}
        entry = self._open.get(msg.incident_id)
        if msg.kind in ("merged_into", "split_out") and entry is not None:
            left = [fp for fp in entry.fingerprints if fp not in moved]
            if msg.kind == "merged_into" or not left:
                self._open.pop(msg.incident_id, None)
            else:
                self._open[msg.incident_id] = entry.model_copy(update={"fingerprints": left})
        elif msg.kind in ("merged_from", "split_from"):
            base = entry or OpenIncident(
                id=msg.incident_id,
                services=[],
                fingerprints=[],
                opened_at=min((a.starts_at for a in msg.alerts), default=workflow.now()),
            )
            self._open[msg.incident_id] = base.model_copy(
                update={
                    "fingerprints": sorted({*base.fingerprints, *moved}),
                    "services": [
                        *base.services,
                        *(s for s in msg.services if s not in base.services),
                    ],
                }
            )

    @workflow.query(name="stats")
    def stats(self) -> StreamStats:
        """Every alert accounted for: received, processed, opened, joined, dropped."""
        return self._stats

    @workflow.query(name="open_incidents")
    def open_incidents(self) -> list[OpenIncident]:
        """The open-incident index correlation joins new alerts against."""
        return list(self._open.values())

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
        # Decided once per run, before any command: a run either sizes rounds by bytes or not.
        self._by_bytes = workflow.patched(ROUNDS_BY_BYTES_PATCH)
        self._refeed = workflow.patched(QUIET_REFEED_PATCH)
        while True:
            await workflow.wait_condition(lambda: bool(self._pending) or self._should_hand_over())
            if self._pending and self._inp.settle_seconds > 0 and not self._should_hand_over():
                # The settle window (Alertmanager's group_wait): an alert that resolves
                # before it ends arrives in the same merged batch and opens nothing.
                await workflow.sleep(timedelta(seconds=self._inp.settle_seconds))
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
                    inp.model_copy(
                        update={
                            "open_incidents": list(self._open.values()),
                            "pending": list(self._pending),
                            "seen_batches": list(self._seen),
                            "stats": self._stats.model_copy(update={"runs": self._stats.runs + 1}),
                            "transitions": self._transitions,
                            "quiet": list(self._quiet.values()),
                        }
                    )
                )

    def _take_pending(self) -> AlertBatch:
        """Batches waiting now, up to a round's size, merged: a burst correlates together."""
        max_alerts = MAX_MERGED_ALERTS if self._by_bytes else OLD_MAX_MERGED_ALERTS
        max_bytes = MAX_MERGED_BYTES if self._by_bytes else 1 << 62
        take, size, weight = 0, 0, 0
        for b in self._pending:
            more = alert_weight(b)
            if take and (size + len(b.alerts) > max_alerts or weight + more > max_bytes):
                break
            take, size, weight = take + 1, size + len(b.alerts), weight + more
        batches, self._pending = self._pending[:take], self._pending[take:]
        self._pending_alerts -= size
        self._pending_weight -= weight
        if len(batches) == 1:
            return batches[0]
        return AlertBatch(
            batch_id="+".join(b.batch_id for b in batches),
            environment=batches[0].environment,
            received_at=batches[0].received_at,
            alerts=[a for b in batches for a in b.alerts],
        )

    async def _process(self, batch: AlertBatch) -> None:
        recent = note_transitions(self._transitions, batch, workflow.now())
        if recent:
            batch = batch.model_copy(update={"recent_transitions": recent})
        detections = await workflow.execute_activity_method(
            DetectionActivities.detect,
            batch,
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary=f"detect {len(batch.alerts)} alert(s)",
        )
        refed = quiet_to_refeed(self._quiet, batch, workflow.now()) if self._refeed else []
        correlation = await workflow.execute_activity_method(
            CorrelationActivities.correlate,
            CorrelationInput(
                environment=self._inp.environment,
                detections=[*detections.detections, *refed],
                open_incidents=index_for(list(self._open.values()), batch),
            ),
            task_queue=self._inp.agent_queue,
            start_to_close_timeout=policies.STREAM_AGENT_TIMEOUT,
            retry_policy=policies.STREAM_RETRY,
            summary=f"correlate against {len(self._open)} open incident(s)",
        )
        rescued = (
            settle_quiet(self._quiet, refed, detections.detections, correlation)
            if self._refeed
            else 0
        )
        held = {d.alert.fingerprint for d in refed}
        for incident in correlation.new_incidents:
            await self._open_incident(incident, correlation, [*detections.detections, *refed])
        for update in correlation.updates:
            known = self._open.get(update.incident_id)
            if known is None:
                continue
            entry = apply_update(known, update)
            self._open[update.incident_id] = entry
            handle = workflow.get_external_workflow_handle_for(
                IncidentWorkflow.run, update.incident_id
            )
            await handle.signal(IncidentWorkflow.alerts_joined, update)
            newly = all_resolved(entry) and not all_resolved(known)
            if newly and workflow.patched(ALL_RESOLVED_PATCH):
                await handle.signal(
                    IncidentWorkflow.alerts_resolved,
                    AlertsResolved(
                        incident_id=entry.id,
                        at=workflow.now(),
                        fingerprints=entry.fingerprints,
                    ),
                )
        # Counted once the index holds the round (the awaits above let queries in between):
        # `stats` never says processed before `open_incidents` shows where the alerts went.
        self._count(
            alerts_processed=len(batch.alerts),
            incidents_opened=len(correlation.new_incidents),
            alerts_joined=sum(len(u.alerts) for u in correlation.updates),
            # Held quiet alerts were counted dropped once; those now in an incident come back.
            alerts_dropped=sum(d.alert.fingerprint not in held for d in correlation.dropped)
            - rescued,
        )

    async def _open_incident(
        self, incident: Incident, correlation: CorrelationResult, detections: list[Detection]
    ) -> None:
        fingerprints = {a.fingerprint for a in incident.alerts}
        # Only this incident's slice of the batch: a storm must not copy every alert into
        # every incident's input.
        inp = IncidentInput(
            incident=incident,
            detections=[d for d in detections if d.alert.fingerprint in fingerprints],
            correlation=CorrelationResult(
                new_incidents=[incident],
                dropped=[d for d in correlation.dropped if d.alert.fingerprint in fingerprints],
            ),
            stream_workflow_id=workflow.info().workflow_id,
            approval_timeout_seconds=self._inp.approval_timeout_seconds,
            agent_queue=self._inp.agent_queue,
            remediation_queue=self._inp.remediation_queue,
        )
        try:
            child = await workflow.start_child_workflow(
                IncidentWorkflow.run,
                inp,
                id=incident.id,
                task_queue=self._inp.workflow_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                **incident_start_fields(incident),
            )
            # The incident reports its own end by signal (that survives our continue-as-new);
            # its completion here is only acknowledged, so a failed child warns nobody twice.
            child.add_done_callback(_acknowledge)
        except WorkflowAlreadyStartedError:
            # A retried batch after continue-as-new can re-propose an incident we started.
            workflow.logger.info("incident %s already started", incident.id)
        self._open[incident.id] = OpenIncident(
            id=incident.id,
            services=incident.services,
            fingerprints=sorted(fingerprints),
            opened_at=incident.opened_at,
            origin_service=incident.origin_service,
            members=capped_members(
                {
                    d.alert.fingerprint: AlertMember(service=d.service, name=d.alert.name)
                    for d in detections
                    if d.alert.fingerprint in fingerprints
                }
            ),
        )

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
            or length >= self._inp.continue_as_new_after_events
        )
        # The backlog rides in the next run's input (2 MB at most): drain it below the carry
        # limit first; the edge's backpressure (503 over its backlog limit) lets it drain.
        if not wanted:
            return False
        if self._by_bytes:
            return self._pending_weight <= CARRY_MAX_BYTES
        return self._pending_alerts <= OLD_CARRY_MAX_ALERTS
