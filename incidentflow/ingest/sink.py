"""Hand accepted alert batches to Temporal: signal-with-start of the partition's stream."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from incidentflow.errors import BadInput, TemporalUnavailable
from incidentflow.models import AlertBatch, StreamInput
from incidentflow.settings import Settings
from workflows.names import ALERTS_SIGNAL, stream_workflow_id
from workflows.stream import AlertStreamWorkflow

# How often the edge asks a stream how many alerts wait in it (backpressure), at most.
BACKLOG_REFRESH_S = 0.5
BACKLOG_QUERY_TIMEOUT = timedelta(seconds=2)


class TemporalSink:
    """Durably accepts batches: returns only once Temporal has recorded the signal."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        # stream id -> (monotonic time asked, alerts waiting); refreshed in the background.
        self._backlog: dict[str, tuple[float, int]] = {}
        # Alerts this process sent to a stream since its backlog was last asked: the estimate
        # stays conservative between answers.
        self._sent_since: dict[str, int] = {}
        self._asking: dict[str, asyncio.Task[None]] = {}

    def _refresh_backlog(self, stream_id: str) -> int:
        """The last known backlog of a stream; asks again in the background when stale."""
        asked, value = self._backlog.get(stream_id, (0.0, 0))
        running = self._asking.get(stream_id)
        if time.monotonic() - asked > BACKLOG_REFRESH_S and (running is None or running.done()):
            self._asking[stream_id] = asyncio.create_task(self._ask_backlog(stream_id))
        return value + self._sent_since.get(stream_id, 0)

    async def _ask_backlog(self, stream_id: str) -> None:
        handle = self._client.get_workflow_handle(stream_id)
        try:
            value = await handle.query(
                AlertStreamWorkflow.backlog, rpc_timeout=BACKLOG_QUERY_TIMEOUT
            )
        except Exception:
            value = 0
        self._backlog[stream_id] = (time.monotonic(), value)
        self._sent_since[stream_id] = 0

    async def accept(self, batch: AlertBatch) -> str:
        """Signal-with-start the stream of `batch.environment`; its workflow id on success."""
        s = self._settings
        stream_id = stream_workflow_id(batch.environment)
        timeout = timedelta(seconds=s.accept_timeout_seconds)
        waiting = self._refresh_backlog(stream_id)
        if waiting + len(batch.alerts) > s.max_stream_backlog and waiting > 0:
            # Backpressure: the sender retries later; accepting more would only grow a
            # backlog the stream must carry across continue-as-new.
            raise TemporalUnavailable(
                f"stream {stream_id} has {waiting} alerts waiting "
                f"(limit INCIDENTFLOW_MAX_STREAM_BACKLOG={s.max_stream_backlog})"
            )
        # Reserve before awaiting, so concurrent requests see each other's alerts.
        self._sent_since[stream_id] = self._sent_since.get(stream_id, 0) + len(batch.alerts)
        try:
            await asyncio.wait_for(
                self._client.start_workflow(
                    AlertStreamWorkflow.run,
                    StreamInput(
                        environment=batch.environment,
                        approval_timeout_seconds=s.approval_timeout_seconds,
                        agent_queue=s.agent_queue,
                        remediation_queue=s.remediation_queue,
                        workflow_queue=s.workflow_queue,
                        settle_seconds=s.settle_seconds,
                    ),
                    id=stream_id,
                    task_queue=s.workflow_queue,
                    start_signal=ALERTS_SIGNAL,
                    start_signal_args=[batch],
                    static_summary=f"alert stream for {batch.environment}",
                    rpc_timeout=timeout,
                ),
                timeout=s.accept_timeout_seconds,
            )
        except RPCError as err:
            if err.status is RPCStatusCode.INVALID_ARGUMENT:
                # Retrying cannot help (e.g. over Temporal's payload size limit): 4xx, not 503.
                raise BadInput(
                    f"Temporal refused batch {batch.batch_id}: {err.message[:200]}"
                ) from err
            raise TemporalUnavailable(
                f"Temporal at {s.target} did not accept batch {batch.batch_id}: {err}"
            ) from err
        except (RuntimeError, TimeoutError) as err:
            raise TemporalUnavailable(
                f"Temporal at {s.target} did not accept batch {batch.batch_id}: {err}"
            ) from err
        return stream_id

    async def ready(self) -> bool:
        """True when the Temporal frontend answers within the accept timeout."""
        try:
            timeout = timedelta(seconds=self._settings.accept_timeout_seconds)
            return await asyncio.wait_for(
                self._client.service_client.check_health(timeout=timeout),
                timeout=self._settings.accept_timeout_seconds,
            )
        except (RPCError, RuntimeError, TimeoutError):
            return False
