"""The one place IncidentFlow talks to a model: the `openai` client, errors mapped, traced.

`max_retries=0`: Temporal owns retries. A 429, a 5xx, a timeout or a refused connection is
`LlmUnavailable` (the activity raises it retryable); 401/403/404 are `ConfigError` naming the
setting to fix; other 4xx are `LlmRequestRejected` (the rules engine answers). Every request
is an OpenTelemetry span with the agent, model, tokens and incident id as attributes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from incidentflow.errors import ConfigError, IncidentFlowError, LlmUnavailable
from incidentflow.llm.budget import estimate_tokens
from incidentflow.llm.config import LlmConfig
from incidentflow.llm.redact import Redactor

if TYPE_CHECKING:
    import openai

TRACER_NAME = "incidentflow"


class LlmRequestRejected(IncidentFlowError):
    """The endpoint refused this request for good (400, 422): the rules engine answers."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """One completion, reduced to what the engines read."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0

    def assistant_message(self) -> dict[str, Any]:
        """The reply as the next request's history carries it."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return msg


class LlmClient:
    """An OpenAI-compatible chat client that never retries on its own."""

    def __init__(
        self,
        config: LlmConfig,
        *,
        tracer: Tracer | None = None,
        http_client: Any = None,
    ) -> None:
        # Imported here, not at module level: it costs a second, and only a worker whose
        # settings enable an LLM engine builds a client (the CLI never does).
        import openai

        self.config = config
        self._tracer = tracer or trace.get_tracer(TRACER_NAME)
        self._openai = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value(),
            max_retries=0,
            timeout=config.timeout_seconds,
            http_client=http_client,
        )
        self._scrub = Redactor(kinds=("tokens",))

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        agent: str,
        incident_id: str | None,
        schema: tuple[str, dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One chat completion; raises LlmUnavailable, ConfigError or LlmRequestRejected."""
        import openai

        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "messages": messages,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_output_tokens,
            "timeout": timeout or cfg.timeout_seconds,
        }
        if schema is not None and cfg.response_format == "json_schema":
            name, body = schema
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": body, "strict": False},
            }
        elif schema is not None and cfg.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if tools:
            kwargs["tools"] = tools
            if tool_choice:
                kwargs["tool_choice"] = tool_choice
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": cfg.model,
            "incidentflow.agent": agent,
        }
        if incident_id:
            attributes["incidentflow.incident_id"] = incident_id
        with self._tracer.start_as_current_span(
            f"chat {cfg.model}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            started = time.monotonic()
            try:
                response = await self._openai.chat.completions.create(**kwargs)
            except openai.APIError as err:
                mapped = self._map(err)
                span.set_status(Status(StatusCode.ERROR, type(mapped).__name__))
                span.set_attribute("error.type", type(err).__name__)
                raise mapped from None
            latency = int((time.monotonic() - started) * 1000)
            reply = _reply(response, latency, messages)
            span.set_attribute("gen_ai.usage.input_tokens", reply.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", reply.completion_tokens)
            span.set_attribute("gen_ai.response.finish_reasons", [reply.finish_reason])
            span.set_attribute("incidentflow.latency_ms", latency)
            span.set_attribute("incidentflow.tool_calls", len(reply.tool_calls))
            return reply

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._openai.close()

    def _map(self, err: openai.APIError) -> IncidentFlowError:
        """The error a person or Temporal acts on; the key never appears in it."""
        import openai

        cfg = self.config
        detail = self._scrub.redact(_message(err)).replace(cfg.api_key.get_secret_value(), "***")
        where = f"{cfg.base_url} (model {cfg.model!r})"
        if isinstance(err, openai.APITimeoutError):
            return LlmUnavailable(
                f"{where} did not answer within the timeout; raise "
                "INCIDENTFLOW_LLM_TIMEOUT_SECONDS if the model is slow"
            )
        if isinstance(err, openai.APIConnectionError):
            return LlmUnavailable(
                f"cannot reach {cfg.base_url}: {detail} (is INCIDENTFLOW_LLM_BASE_URL right?)"
            )
        status = getattr(err, "status_code", 0)
        if status == 401:
            return ConfigError(
                f"{where} refused the key (401): set INCIDENTFLOW_LLM_API_KEY to a valid key"
            )
        if status == 403:
            return ConfigError(
                f"{where}: the key may not use this model (403): check INCIDENTFLOW_LLM_API_KEY "
                "and INCIDENTFLOW_LLM_MODEL"
            )
        if status == 404:
            return ConfigError(
                f"{where} answered 404: check INCIDENTFLOW_LLM_MODEL (a model the endpoint "
                "serves) and INCIDENTFLOW_LLM_BASE_URL (vLLM and Ollama end in /v1)"
                + (f": {detail}" if detail else "")
            )
        if status == 429 or status == 408 or status == 409 or status >= 500:
            return LlmUnavailable(
                f"{where} answered {status}: {detail}", retry_after=_retry_after(err)
            )
        hint = ""
        if "response_format" in detail or "json_schema" in detail:
            hint = "; if the server cannot do structured output, set "
            hint += "INCIDENTFLOW_LLM_RESPONSE_FORMAT=json_object"
        elif "tool" in detail.lower():
            hint = "; if the server cannot call tools (vLLM needs --enable-auto-tool-choice and "
            hint += "--tool-call-parser), set INCIDENTFLOW_LLM_TOOL_STEPS=0"
        elif "context" in detail.lower() or "too long" in detail.lower():
            hint = "; lower INCIDENTFLOW_LLM_CONTEXT_TOKENS to the model's context"
        return LlmRequestRejected(f"{where} refused the request ({status}): {detail}{hint}")


def _message(err: openai.APIError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
    return str(err.message)[:300]


def _retry_after(err: openai.APIError) -> float | None:
    response = getattr(err, "response", None)
    raw = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _reply(response: Any, latency_ms: int, messages: list[dict[str, Any]]) -> Reply:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else None
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
        for c in (message.tool_calls or [] if message is not None else [])
        if getattr(c, "type", "function") == "function"
    ]
    content = message.content if message is not None else None
    usage = response.usage
    # Some servers omit usage: estimate, so the budget and the accounting still add up.
    prompt = usage.prompt_tokens if usage else estimate_tokens(json.dumps(messages))
    completion = usage.completion_tokens if usage else estimate_tokens(content or "")
    return Reply(
        content=content,
        tool_calls=calls,
        finish_reason=str(choice.finish_reason) if choice is not None else "stop",
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=latency_ms,
    )
