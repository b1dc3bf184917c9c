"""Replay recorded histories with today's workflow code: breaking open incidents fails CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from incidentflow.codec import DATA_CONVERTER
from worker import WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


@pytest.mark.parametrize("name", sorted(p.stem for p in HISTORIES.glob("*.json")))
async def test_recorded_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
