"""The real `openai` client against the loopback fake: errors, no retries, spans, the key;
and an evidence tool call as a span."""

from __future__ import annotations

import json
import logging

import pytest
from fake_openai import FAKE_KEY, FakeOpenAI, Reply, Request, answer, fail
from llm_support import demo_incident, llm_values
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from incidentflow.agents.investigation import DEFAULT_CONFIG, window_of
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.context import build_context
from incidentflow.errors import ConfigError, LlmUnavailable
from incidentflow.llm.client import LlmClient, LlmRequestRejected, ToolCall
from incidentflow.llm.config import LlmConfig, llm_config
from incidentflow.llm.redact import Redactor
from incidentflow.llm.tools import EvidenceTools
from incidentflow.settings import LlmSettings, Settings

HELLO = [{"role": "user", "content": "hello"}]


def config(fake: FakeOpenAI, **overrides: object) -> LlmConfig:
    cfg = llm_config(LlmSettings.model_validate(llm_values(fake, **overrides)))
    assert cfg is not None
    return cfg


def local_spans() -> tuple[InMemorySpanExporter, TracerProvider]:
    """A private provider: the process-wide one belongs to test_tracing."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider


async def test_structured_output_request_and_usage() -> None:
    with FakeOpenAI(lambda r: answer({"ok": True})) as fake:
        spans, provider = local_spans()
        client = LlmClient(config(fake), tracer=provider.get_tracer("test"))
        reply = await client.chat(
            HELLO,
            agent="investigation",
            incident_id="INC-1",
            schema=("incidentflow_investigation", {"type": "object"}),
        )
        await client.close()
    assert reply.content == '{"ok": true}' and reply.prompt_tokens > 0
    body = fake.requests[0].body
    assert body["response_format"]["json_schema"]["name"] == "incidentflow_investigation"
    assert body["max_tokens"] == 2048 and body["temperature"] == 0.0
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "chat fake-model"
    assert attrs["incidentflow.agent"] == "investigation"
    assert attrs["incidentflow.incident_id"] == "INC-1"
    assert attrs["gen_ai.request.model"] == "fake-model"
    assert attrs["gen_ai.usage.input_tokens"] == reply.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == reply.completion_tokens


async def test_json_object_mode_for_servers_without_schemas() -> None:
    with FakeOpenAI(lambda r: answer({})) as fake:
        client = LlmClient(config(fake, llm_response_format="json_object"))
        await client.chat(HELLO, agent="a", incident_id=None, schema=("n", {"type": "object"}))
    assert fake.requests[0].body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("reply", "error", "setting"),
    [
        (fail(429, "rate limited", retry_after="7"), LlmUnavailable, "429"),
        (fail(500, "boom"), LlmUnavailable, "500"),
        (fail(503, "overloaded"), LlmUnavailable, "503"),
        (
            fail(400, "response_format json_schema is not supported"),
            LlmRequestRejected,
            "INCIDENTFLOW_LLM_RESPONSE_FORMAT=json_object",
        ),
        (
            fail(400, '"auto" tool choice requires --enable-auto-tool-choice'),
            LlmRequestRejected,
            "INCIDENTFLOW_LLM_TOOL_STEPS=0",
        ),
        (
            fail(400, "maximum context length exceeded"),
            LlmRequestRejected,
            "INCIDENTFLOW_LLM_CONTEXT_TOKENS",
        ),
    ],
)
async def test_errors_map_to_what_temporal_or_a_person_does_and_nothing_retries(
    reply: Reply, error: type[Exception], setting: str
) -> None:
    with FakeOpenAI(lambda r: reply) as fake:
        client = LlmClient(config(fake))
        with pytest.raises(error, match=setting) as raised:
            await client.chat(HELLO, agent="a", incident_id=None)
    assert len(fake.requests) == 1, "the client must not retry: Temporal owns retries"
    if reply.status == 429:
        assert isinstance(raised.value, LlmUnavailable) and raised.value.retry_after == 7.0


async def test_401_and_404_name_the_setting_to_fix_and_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(lambda r: answer({})) as fake:
        wrong = LlmClient(config(fake, llm_api_key=SecretStr("sk-wrong-key-0123456789")))
        with pytest.raises(ConfigError, match="INCIDENTFLOW_LLM_API_KEY") as bad_key:
            await wrong.chat(HELLO, agent="a", incident_id=None)
        missing = LlmClient(config(fake, llm_model="no-such-model"))
        with pytest.raises(ConfigError, match="INCIDENTFLOW_LLM_MODEL") as bad_model:
            await missing.chat(HELLO, agent="a", incident_id=None)
    assert "INCIDENTFLOW_LLM_BASE_URL" in str(bad_model.value)
    assert len(fake.requests) == 2
    for text in (str(bad_key.value), str(bad_model.value), caplog.text):
        assert "sk-wrong-key" not in text and FAKE_KEY not in text


async def test_an_unreachable_endpoint_and_a_timeout_are_retryable() -> None:
    with FakeOpenAI(lambda r: answer({})) as fake:
        url = fake.url
    closed = LlmClient(config(fake, llm_base_url=url))
    with pytest.raises(LlmUnavailable, match="INCIDENTFLOW_LLM_BASE_URL"):
        await closed.chat(HELLO, agent="a", incident_id=None)

    def slow(r: Request) -> Reply:
        import time

        time.sleep(1.5)
        return answer({})

    with FakeOpenAI(slow) as fake:
        client = LlmClient(config(fake, llm_timeout_seconds=0.3))
        with pytest.raises(LlmUnavailable, match="INCIDENTFLOW_LLM_TIMEOUT_SECONDS"):
            await client.chat(HELLO, agent="a", incident_id=None)
    assert len(fake.requests) == 1


async def test_a_tool_call_is_a_span_and_becomes_evidence() -> None:
    spans, provider = local_spans()
    ctx = build_context(Settings().replace(dict(evidence_bundle=demo_scenario_path())))
    incident = demo_incident(ctx)
    tools = EvidenceTools(
        incident=incident,
        graph=ctx.graph,
        source=ctx.evidence.aligned(incident.alerts),
        window=window_of(incident, DEFAULT_CONFIG),
        config=DEFAULT_CONFIG,
        redactor=Redactor(),
        services={"payments", "checkout"},
        tracer=provider.get_tracer("test"),
    )
    result = json.loads(
        await tools.run(ToolCall("c1", "list_changes", '{"service": "payments"}'), max_chars=4000)
    )
    (item,) = result["evidence"]
    assert item["id"] == "ev-change-chg-payments-2150" and item["attributes"]["after"] == "v2.15.0"
    assert tools.evidence[item["id"]].attributes["tool_call"] == "1:list_changes"
    outside = await tools.run(
        ToolCall("c2", "list_changes", '{"service": "catalog"}'), max_chars=99
    )
    assert outside.startswith("refused") and tools.calls == 1
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "execute_tool list_changes"
    assert attrs["incidentflow.incident_id"] == incident.id
    assert attrs["incidentflow.service"] == "payments"
    assert list(attrs["incidentflow.evidence_ids"]) == [item["id"]]
