"""Stream agents' errors that no retry can fix are final: the stream quarantines the round.

Detection and correlation's rules engines are pure functions of their input: an exception
from them happens again on every retry, and with the stream's unlimited retries one bad alert
would hold back every later one (issue 14). Transient trouble (a worker that dies, a timeout)
never reaches this code: Temporal retries those as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

# The ApplicationError type the stream recognises as "this round cannot be processed".
AGENT_ERROR = "AgentCannotProcess"


@contextmanager
def final_errors(stage: str) -> Iterator[None]:
    """Re-raise any exception from a pure agent step as a non-retryable ApplicationError."""
    try:
        yield
    except ApplicationError:
        raise
    except Exception as err:
        raise ApplicationError(
            f"{stage} cannot process this round: {type(err).__name__}: {str(err)[:500]}",
            type=AGENT_ERROR,
            non_retryable=True,
        ) from err
