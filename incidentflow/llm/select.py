"""Which engine answers, decided in the activity: the model when enabled, rules otherwise.

The rules engine answers instead of the model when the answer is refused twice, when the
endpoint refuses the request, when time runs out, and when the endpoint stays unavailable
for `INCIDENTFLOW_LLM_MAX_ATTEMPTS` activity attempts (before that, the activity raises a
retryable error and Temporal retries with backoff). A 401/403/404 is a setting to fix:
incident agents fail non-retryably with the setting named (the incident parks for a person);
stream agents (detection, correlation) answer with rules instead, because the stream has
no person to park with and must not lose a batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from incidentflow.errors import ConfigError, LlmUnavailable
from incidentflow.llm.accounting import Meter, log
from incidentflow.llm.client import LlmRequestRejected
from incidentflow.llm.engine import AnswerRefused, LlmEngine
from incidentflow.models import Artifact, Engine

T = TypeVar("T", bound=Artifact)
# Leave this share of the activity's start-to-close timeout for the rules engine's answer.
RULES_RESERVE = 0.2
STREAM_AGENTS = frozenset({"detection", "correlation"})


async def answer(
    engine: LlmEngine,
    agent: str,
    *,
    incident_id: str | None,
    llm: Callable[[Meter, float | None], Awaitable[T]],
    rules: Callable[[], Awaitable[T]],
) -> T:
    """The model's artifact (engine=llm), or the rules engine's with the reason recorded."""
    meter = engine.meter(agent, incident_id)
    who = incident_id or "batch"
    try:
        result = await llm(meter, _deadline())
    except LlmUnavailable as err:
        attempt, limit = _attempts(engine)
        if attempt < limit:
            raise ApplicationError(
                f"{who}: {agent}: model unavailable on attempt {attempt} of {limit}: {err}",
                type="LlmUnavailable",
                next_retry_delay=timedelta(seconds=err.retry_after)
                if err.retry_after is not None
                else None,
            ) from err
        reason = f"the model was unavailable on {attempt} attempt(s): {err}"
    except ConfigError as err:
        if agent not in STREAM_AGENTS:
            raise ApplicationError(
                f"{who}: {agent}: {err}", type="ConfigError", non_retryable=True
            ) from err
        log.error("llm %s for %s: %s; the rules engine answered", agent, who, err)
        reason = f"the model is misconfigured: {err}"
    except LlmRequestRejected as err:
        reason = str(err)
    except AnswerRefused as err:
        reason = f"answer refused after one repair: {err}"
    else:
        meter.report("llm")
        _count(meter, "llm")
        return result.model_copy(
            update={"engine": Engine.LLM, "engine_reason": "", "llm_usage": meter.usage()}
        )
    meter.report("rules", reason)
    _count(meter, "rules")
    fallback = await rules()
    return fallback.model_copy(
        update={"engine_reason": f"llm: {reason}", "llm_usage": meter.usage()}
    )


def _count(meter: Meter, engine: str) -> None:
    """Calls, tokens and latency per agent on the worker's metrics (a no-op unless enabled)."""
    metrics = activity.metric_meter()
    labels = {"agent": meter.agent, "engine": engine}
    metrics.create_counter("incidentflow_llm_answers", "Agent answers by engine").add(1, labels)
    metrics.create_counter("incidentflow_llm_calls", "Chat completion requests").add(
        meter.calls, labels
    )
    tokens = metrics.create_counter("incidentflow_llm_tokens", "Tokens sent and received")
    tokens.add(meter.prompt_tokens, {**labels, "kind": "prompt"})
    tokens.add(meter.completion_tokens, {**labels, "kind": "completion"})
    metrics.create_histogram("incidentflow_llm_latency", "Model time per answer", "ms").record(
        meter.latency_ms, labels
    )


def given(value: T) -> Callable[[], Awaitable[T]]:
    """A rules answer computed already (detection, correlation, post-mortem), as a fallback."""

    async def fallback() -> T:
        return value

    return fallback


def _attempts(engine: LlmEngine) -> tuple[int, int]:
    """(this attempt, the attempt on which rules answer instead of retrying again)."""
    info = activity.info()
    limit = engine.config.max_attempts
    policy = info.retry_policy
    if policy is not None and policy.maximum_attempts > 0:
        limit = min(limit, policy.maximum_attempts)
    return info.attempt, limit


def _deadline() -> float | None:
    """Monotonic time by which the model must have answered, leaving room for rules."""
    info = activity.info()
    budget = info.start_to_close_timeout
    if not budget:
        return None
    started = info.started_time
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    left = (started + budget - datetime.now(UTC)).total_seconds()
    reserve = budget.total_seconds() * RULES_RESERVE
    return time.monotonic() + max(0.0, left - reserve) if math.isfinite(left) else None
