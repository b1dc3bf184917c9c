"""Hand accepted alert batches to Temporal: signal-with-start of the partition's stream."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from incidentflow.errors import TemporalUnavailable
from incidentflow.models import AlertBatch, StreamInput
from incidentflow.settings import Settings
from workflows.names import ALERTS_SIGNAL, stream_workflow_id
from workflows.stream import AlertStreamWorkflow


class TemporalSink:
    """Durably accepts batches: returns only once Temporal has recorded the signal."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def accept(self, batch: AlertBatch) -> str:
        """Signal-with-start the stream of `batch.environment`; its workflow id on success."""
        s = self._settings
        stream_id = stream_workflow_id(batch.environment)
        timeout = timedelta(seconds=s.accept_timeout_seconds)
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
        except (RPCError, RuntimeError, TimeoutError) as err:
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
