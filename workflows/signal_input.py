"""A signal's input as a person typed it into `temporal workflow signal`.

Temporal accepts any JSON for a signal; a handler typed with a model would make the SDK drop
a malformed one with only a worker log line. Handlers take the raw payload and decode it here,
so a malformed signal is recorded in the incident's timeline with the reason (issue 13).

Deterministic module: decoding only, no I/O.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue

M = TypeVar("M", bound=BaseModel)
# What each model's JSON looks like, for the timeline entry that says how to do it right.
EXAMPLES = {
    "DecisionRequest": '{"by": "alice", "reason": "..."}',
    "TakeoverRequest": '{"by": "alice", "text": "..."}',
    "StageRequest": '{"by": "alice", "stage": "investigation", "reason": "..."}',
    "OverrideRequest": '{"by": "alice", "stage": "planning", "plan": {...}}',
}
MAX_REASON_CHARS = 200


def decode(raw: RawValue, model: type[M]) -> M | str:
    """The signal's input as `model`, or one line saying why it is not one."""
    try:
        return workflow.payload_converter().from_payload(raw.payload, model)
    except Exception as err:  # any decoding failure is the sender's mistake, recorded
        text = " ".join(str(err).split())[:MAX_REASON_CHARS]
        example = EXAMPLES.get(model.__name__, "{...}")
        return f"{text}; expected JSON like {example}"
