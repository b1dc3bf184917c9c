"""LLM engines for the five agents, through any OpenAI-compatible endpoint (docs/llm.md).

Off by default. When `INCIDENTFLOW_LLM_AGENTS` names an agent, its activity asks the model
first (`select.answer`) and the rules engine answers whenever the model's answer is refused,
the endpoint stays unavailable, or time runs out; the artifact records which engine answered,
why, and what the model cost (`llm_usage`). Modules: `config` (settings), `client` (the
`openai` client, errors, spans), `redact`, `budget` (token budget and truncation), `prompts`
(templates in `prompts/*.md`), `guard` (validation every answer passes), `engine` (structured
output, one repair, the tool loop), `tools` (investigation's evidence tools), `accounting`,
and one module per agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidentflow.llm.config import LlmConfig, llm_config
from incidentflow.settings import LlmSettings

if TYPE_CHECKING:
    from incidentflow.llm.engine import LlmEngine


def build_engine(cfg: LlmSettings) -> LlmEngine | None:
    """The engine the settings enable, or None (rules only). Touches no network."""
    config = llm_config(cfg)
    if config is None:
        return None
    # Imported here: the `openai` package costs a second, and only the agents' worker needs it.
    from incidentflow.llm.engine import LlmEngine

    return LlmEngine(config)


__all__ = ["LlmConfig", "build_engine", "llm_config"]
