"""The alert stream's configuration, read from the worker's settings (issue 17 item 5).

Served on the workflow task queue by the worker that runs the stream: the stream knows that
queue without configuration (it is its own), and from the answer it learns the others.
"""

from __future__ import annotations

from temporalio import activity

from incidentflow.models import StreamConfig
from incidentflow.settings import Settings


def stream_config_from(settings: Settings) -> StreamConfig:
    """The settings an alert stream reads, as one recorded answer."""
    return StreamConfig(
        agent_queue=settings.temporal.agent_queue,
        remediation_queue=settings.temporal.remediation_queue,
        workflow_queue=settings.temporal.workflow_queue,
        settle_seconds=settings.ingest.settle_seconds,
        refresh_seconds=settings.ingest.stream_config_seconds,
    )


class StreamConfigActivities:
    def __init__(self, settings: Settings) -> None:
        self._config = stream_config_from(settings)

    @activity.defn(name="stream_config")
    async def stream_config(self, environment: str) -> StreamConfig:
        """Queue names and the settle window, as this worker is configured now."""
        return self._config
