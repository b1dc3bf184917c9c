"""Prompt templates kept as Markdown files in `incidentflow/llm/prompts/`.

Each agent's file has a `## System` and a `## User` section (other `## Name` sections are
fragments the agent's code picks from); `$name` placeholders are filled
with `string.Template`, so JSON braces in a template need no escaping. `_guardrails.md` is
shared by every agent; `_repair.md` is the message that sends a refused answer back once.
Input data always sits between `<<<DATA` and `DATA>>>` fences, and `budget.dumps` escapes
`<` and `>` inside it so data can never close its own fence.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Any

from incidentflow.errors import ConfigError

_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_SECTION = re.compile(r"^## (\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    """A template's sections; `fragments` are the other `## Name` sections, by lower name."""

    name: str
    system: str
    user: str
    fragments: dict[str, str] = field(default_factory=dict)


@functools.cache
def load(name: str) -> Prompt:
    """The template called `name` (`detection`, `investigation`, ...)."""
    try:
        text = resources.files("incidentflow.llm").joinpath("prompts", f"{name}.md").read_text()
    except (FileNotFoundError, OSError) as err:
        raise ConfigError(f"prompt template {name}.md is missing from the package") from err
    parts = _SECTION.split(_COMMENT.sub("", text))
    sections = {parts[i].lower(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return Prompt(
        name=name,
        system=sections.pop("system", ""),
        user=sections.pop("user", ""),
        fragments=sections,
    )


@functools.cache
def guardrails() -> str:
    """The rules every agent's system prompt carries."""
    text = resources.files("incidentflow.llm").joinpath("prompts", "_guardrails.md").read_text()
    return text.strip()


def render(template: str, **values: str) -> str:
    """`template` with its `$placeholders` filled; a missing one is a mistake worth stopping."""
    try:
        return Template(template).substitute(values)
    except (KeyError, ValueError) as err:
        raise ConfigError(f"prompt template needs a value for {err}") from err


def schema_hint(schema: dict[str, Any], response_format: str) -> str:
    """The answer schema in words, for endpoints that do not enforce it themselves."""
    if response_format == "json_schema":
        return ""
    return (
        "\nThe answer schema (JSON Schema):\n\n"
        + json.dumps(schema, separators=(",", ":"), sort_keys=True)
        + "\n"
    )


def notes_line(notes: list[str]) -> str:
    """Where the context was cut, said to the model so it knows what it has not seen."""
    if not notes:
        return ""
    return "\nThe data was cut to fit the context budget: " + "; ".join(notes) + ".\n"
