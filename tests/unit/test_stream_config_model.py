"""What the alert stream reads from its worker's settings (issue 17 item 5), without a server."""

from __future__ import annotations

from pathlib import Path

from activities.stream_config import stream_config_from
from incidentflow.models import StreamInput
from incidentflow.settings import Settings


def test_the_stream_config_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings().replace(
        {
            "data_dir": tmp_path,
            "task_queue_prefix": "blue-",
            "settle_seconds": 2.5,
            "stream_config_seconds": 5.0,
        }
    )
    config = stream_config_from(settings)
    assert config.agent_queue == settings.temporal.agent_queue
    assert config.agent_queue.startswith("blue-")
    assert config.workflow_queue == settings.temporal.workflow_queue
    assert config.remediation_queue == settings.temporal.remediation_queue
    assert (config.settle_seconds, config.refresh_seconds) == (2.5, 5.0)


def test_stream_input_carries_only_what_identifies_the_stream() -> None:
    carried = set(StreamInput.model_fields)
    frozen = {"agent_queue", "remediation_queue", "workflow_queue", "settle_seconds"}
    assert not carried & frozen
    assert "approval_timeout_seconds" not in carried
