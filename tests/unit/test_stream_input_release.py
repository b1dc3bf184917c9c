"""A stream run lets go of what its input carried (issue 14 item 3: memory after a storm).

The SDK keeps a run's decoded input alive until the run ends; these tests hold it the same way.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta

from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertStatus,
    Detection,
    OpenIncident,
    Severity,
    StreamInput,
)
from workflows.stream import AlertStreamWorkflow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def alert(n: int) -> Alert:
    return Alert(
        fingerprint=f"fp-{n}",
        source="alertmanager",
        name="Err",
        status=AlertStatus.FIRING,
        labels={"service": "api"},
        starts_at=NOW + timedelta(seconds=n),
    )


def carried() -> StreamInput:
    """An input as a hand-over writes it: every carried collection holds something."""
    return StreamInput(
        environment="prod",
        open_incidents=[
            OpenIncident(id="INC-1", services=["api"], fingerprints=["fp-9"], opened_at=NOW)
        ],
        pending=[
            AlertBatch(batch_id=f"b-{b}", environment="prod", received_at=NOW, alerts=[alert(b)])
            for b in range(3)
        ],
        seen_batches=["b-0", "b-1", "b-2"],
        transitions={"fp-8": [NOW]},
        quiet=[
            Detection(alert=alert(7), service="api", severity=Severity.WARNING, reasons=["quiet"])
        ],
    )


def test_the_run_state_keeps_everything_the_input_carried() -> None:
    inp = carried()
    wf = AlertStreamWorkflow(inp)
    assert wf.pending_batches() == 3
    assert wf.backlog() == 3
    assert [o.id for o in wf.open_incidents()] == ["INC-1"]
    assert wf._seen == ["b-0", "b-1", "b-2"]
    assert list(wf._transitions) == ["fp-8"]
    assert list(wf._quiet) == ["fp-7"]


def test_a_processed_carried_batch_is_freed_although_the_input_lives_on() -> None:
    inp = carried()
    first = weakref.ref(inp.pending[0])
    wf = AlertStreamWorkflow(inp)
    round_ = wf._take_pending()  # the round takes every waiting batch, merged
    assert len(round_.alerts) == 3
    del round_
    gc.collect()
    assert first() is None, "the run's input still holds a batch the stream has processed"
    # Every container the input carried is empty, so a field added later is released too.
    for name in StreamInput.model_fields:
        value = getattr(inp, name)
        if isinstance(value, (list, dict)):
            assert not value, name
