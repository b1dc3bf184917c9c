"""Ask the model for one agent's answer: bounded context, structured output, one repair.

`LlmEngine.ask` builds the system and user messages from the agent's prompt file, fits the
input into the token budget and redacts it, then asks. An investigation's toolbox lets the
model read evidence first, within a step budget. The answer is parsed into the agent's answer
model and checked; a refused answer goes back once with its problems, and a second refusal
raises `AnswerRefused` so the rules engine answers instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from incidentflow.errors import IncidentFlowError
from incidentflow.llm import prompts
from incidentflow.llm.accounting import Meter
from incidentflow.llm.budget import dumps, estimate_tokens, fit
from incidentflow.llm.client import LlmClient, Reply, ToolCall
from incidentflow.llm.config import LlmConfig
from incidentflow.llm.guard import commands_in, parse
from incidentflow.llm.redact import Redactor

A = TypeVar("A", bound=BaseModel)
# Below this many seconds before the activity's deadline, do not start another request.
MIN_CALL_SECONDS = 2.0
# The share of the context budget the initial data may take when tools will add results.
DATA_SHARE_WITH_TOOLS = 0.4


class AnswerRefused(IncidentFlowError):
    """The model's answer failed validation twice (or the model ran out of time or steps)."""


class Toolbox(Protocol):
    """Read-only tools an agent offers the model; every call it runs becomes evidence."""

    def specs(self) -> list[dict[str, Any]]:
        """OpenAI `tools` entries."""
        ...

    async def run(self, call: ToolCall, *, max_chars: int) -> str:
        """The result the model reads (already redacted), at most `max_chars` long."""
        ...


@dataclass(frozen=True)
class Ask(Generic[A]):
    """One agent's question: its prompt, its input view and how its answer is checked."""

    agent: str
    answer: type[A]
    data: Any
    check: Callable[[A], list[str]]
    incident_id: str | None = None
    values: dict[str, str] = field(default_factory=dict)


class LlmEngine:
    """The model behind every enabled agent, built once per agents' worker."""

    def __init__(self, config: LlmConfig, client: LlmClient | None = None) -> None:
        self.config = config
        self.client = client or LlmClient(config)
        self.redactor = Redactor(kinds=config.redact, patterns=config.redact_patterns)

    def enabled(self, agent: str) -> bool:
        """True when `agent` asks the model first."""
        return self.config.enabled(agent)

    def meter(self, agent: str, incident_id: str | None) -> Meter:
        """A fresh meter for one answer."""
        return Meter(agent=agent, model=self.config.model, incident_id=incident_id)

    async def ask(
        self,
        ask: Ask[A],
        meter: Meter,
        *,
        deadline: float | None = None,
        tools: Toolbox | None = None,
    ) -> A:
        """The checked answer; AnswerRefused when it fails twice or time runs out."""
        cfg = self.config
        schema = ask.answer.model_json_schema()
        prompt = prompts.load(ask.agent)
        system = prompts.render(
            prompt.system,
            guardrails=prompts.guardrails(),
            schema_hint=prompts.schema_hint(schema, cfg.response_format),
            **ask.values,
        )
        share = DATA_SHARE_WITH_TOOLS if tools is not None else 1.0
        room = int(cfg.context_tokens * share) - estimate_tokens(system + prompt.user) - 50
        data, notes = fit(ask.data, max(200, room))
        meter.truncated += notes
        user = prompts.render(
            prompt.user,
            notes=prompts.notes_line(notes),
            data=self.redactor.redact(dumps(data)),
            **ask.values,
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        steps_left = cfg.tool_steps if tools is not None else 0
        repaired = False
        while True:
            offer = tools.specs() if tools is not None else None
            reply = await self._call(messages, ask, meter, schema, offer, steps_left, deadline)
            messages.append(reply.assistant_message())
            if reply.tool_calls and tools is not None and steps_left > 0:
                steps_left = await self._run_tools(reply, tools, messages, meter, steps_left)
                continue
            # Every tool call needs an answer in the history, even a refused one.
            messages += [_refused_call(c) for c in reply.tool_calls]
            answer, problems = self._judge(reply, ask)
            if answer is not None and not problems:
                return answer
            meter.refused += problems
            if repaired:
                raise AnswerRefused("; ".join(problems[:6]))
            repaired = True
            meter.repairs += 1
            repair = prompts.load("_repair").user
            listed = "\n".join(f"- {p}" for p in problems[:12])
            text = prompts.render(repair, problems=listed)
            messages.append({"role": "user", "content": self.redactor.redact(text)})

    async def _call(
        self,
        messages: list[dict[str, Any]],
        ask: Ask[Any],
        meter: Meter,
        schema: dict[str, Any],
        tools: list[dict[str, Any]] | None,
        steps_left: int,
        deadline: float | None,
    ) -> Reply:
        timeout = self.config.timeout_seconds
        if deadline is not None:
            left = deadline - time.monotonic()
            if left < MIN_CALL_SECONDS:
                raise AnswerRefused(
                    f"the activity's time ran out after {meter.calls} call(s); raise the "
                    "agent's timeout or lower INCIDENTFLOW_LLM_TIMEOUT_SECONDS"
                )
            timeout = min(timeout, left)
        reply = await self.client.chat(
            messages,
            agent=ask.agent,
            incident_id=ask.incident_id,
            schema=(f"incidentflow_{ask.agent}", schema),
            tools=tools,
            tool_choice=None if tools is None else ("auto" if steps_left > 0 else "none"),
            timeout=timeout,
        )
        meter.add(reply)
        return reply

    async def _run_tools(
        self,
        reply: Reply,
        tools: Toolbox,
        messages: list[dict[str, Any]],
        meter: Meter,
        steps_left: int,
    ) -> int:
        """Run the calls the step budget allows; the rest are answered with a refusal."""
        used = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        room = max(0, self.config.context_tokens - used)
        per_result = max(400, room // max(1, steps_left + 1)) * 4
        for call in reply.tool_calls:
            if steps_left <= 0:
                messages.append(_refused_call(call))
                continue
            steps_left -= 1
            meter.tool_calls += 1
            result = await tools.run(call, max_chars=per_result)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        return steps_left

    def _judge(self, reply: Reply, ask: Ask[A]) -> tuple[A | None, list[str]]:
        if reply.finish_reason == "length":
            return None, [
                "the answer was cut at INCIDENTFLOW_LLM_MAX_OUTPUT_TOKENS: answer more briefly"
            ]
        if reply.tool_calls:
            return None, ["no tool calls are left: answer now with the JSON object"]
        answer, problems = parse(reply.content, ask.answer)
        if answer is None:
            return None, problems
        return answer, [*commands_in(answer), *ask.check(answer)]


def _refused_call(call: ToolCall) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "refused: no tool calls are left; answer with the JSON object now",
    }
