"""The LLM engines' settings, checked once when the agents' worker starts.

Nothing here touches the network: `llm_config` only reads Settings and says which setting is
wrong. The API key stays a SecretStr until the client is built in the same worker process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import SecretStr

from incidentflow.errors import ConfigError
from incidentflow.settings import LlmSettings

AGENTS = ("detection", "correlation", "investigation", "remediation", "postmortem")
REDACTIONS = ("tokens", "emails", "ips")
# Where OpenAI serves its API when no base URL is set; vLLM, Ollama and Azure set their own.
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers (vLLM, Ollama) ignore the key but the client must send one.
NO_KEY = "not-set"


@dataclass(frozen=True)
class LlmConfig:
    """Everything the LLM engines need from settings."""

    base_url: str
    model: str
    api_key: SecretStr = field(repr=False)
    agents: frozenset[str]
    timeout_seconds: float = 30.0
    max_output_tokens: int = 2048
    context_tokens: int = 12_000
    tool_steps: int = 8
    max_attempts: int = 3
    temperature: float = 0.0
    response_format: str = "json_schema"
    redact: tuple[str, ...] = REDACTIONS
    redact_patterns: tuple[str, ...] = ()

    def enabled(self, agent: str) -> bool:
        """True when `agent` asks the model (its rules engine stays the fallback)."""
        return agent in self.agents


def parse_agents(raw: str) -> frozenset[str]:
    """`all`, or a comma list of agent names; unknown names are a ConfigError."""
    names = {n.strip().lower() for n in raw.split(",") if n.strip()}
    if "all" in names:
        return frozenset(AGENTS)
    unknown = sorted(names - set(AGENTS))
    if unknown:
        raise ConfigError(
            f"INCIDENTFLOW_LLM_AGENTS names unknown agents {unknown}: use 'all' or any of "
            f"{', '.join(AGENTS)}"
        )
    return frozenset(names)


def parse_redactions(raw: str) -> tuple[str, ...]:
    """`tokens,emails,ips` (any subset) or `none`."""
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if names == ["none"]:
        return ()
    unknown = sorted(set(names) - set(REDACTIONS))
    if unknown:
        raise ConfigError(
            f"INCIDENTFLOW_LLM_REDACT names unknown redactions {unknown}: use none or any of "
            f"{', '.join(REDACTIONS)}"
        )
    return tuple(n for n in REDACTIONS if n in names)


def llm_config(cfg: LlmSettings) -> LlmConfig | None:
    """The LLM configuration, or None when no agent is enabled (the default)."""
    agents = parse_agents(cfg.llm_agents)
    if not agents:
        return None
    if not cfg.llm_model:
        raise ConfigError(
            "INCIDENTFLOW_LLM_MODEL is not set: name the model the endpoint serves "
            "(INCIDENTFLOW_LLM_AGENTS enables the LLM engines)"
        )
    key = cfg.llm_api_key
    base_url = (cfg.llm_base_url or OPENAI_BASE_URL).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(
            f"INCIDENTFLOW_LLM_BASE_URL={base_url!r} is not an http(s) URL, e.g. "
            "http://127.0.0.1:11434/v1"
        )
    for pattern in cfg.llm_redact_patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(
                f"INCIDENTFLOW_LLM_REDACT_PATTERNS: {pattern!r} is not a regular expression: {err}"
            ) from err
    return LlmConfig(
        base_url=base_url,
        model=cfg.llm_model,
        api_key=key if key is not None and key.get_secret_value() else SecretStr(NO_KEY),
        agents=agents,
        timeout_seconds=cfg.llm_timeout_seconds,
        max_output_tokens=cfg.llm_max_output_tokens,
        context_tokens=cfg.llm_context_tokens,
        tool_steps=cfg.llm_tool_steps,
        max_attempts=cfg.llm_max_attempts,
        temperature=cfg.llm_temperature,
        response_format=cfg.llm_response_format,
        redact=parse_redactions(cfg.llm_redact),
        redact_patterns=tuple(cfg.llm_redact_patterns),
    )
