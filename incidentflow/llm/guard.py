"""Validation shared by every LLM engine: what an answer may never contain.

An answer is parsed into the agent's pydantic answer model (types, enums, ranges), then
checked here and by the agent's own rules (ids that must exist, actions that must come from
the catalog). Every problem is a sentence the repair message sends back to the model once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

A = TypeVar("A", bound=BaseModel)

# Command lines in any text field: an answer that tells someone to run a command would walk
# around the catalog and the approval gate, so it is refused wherever it appears.
_COMMANDS = (
    re.compile(r"```\s*(?:sh|bash|zsh|shell|console|powershell|ps1|cmd)?\s*\n", re.I),
    re.compile(r"\$\([^)]*\)"),
    re.compile(r"\|\s*(?:sudo\s+)?(?:sh|bash|zsh|python3?|perl)\b"),
    re.compile(r"(?:^|[\s;&|`])(?:rm\s+-[A-Za-z]*[rf]|sudo\s+\S|chmod\s+[0-7+]|mkfs\b|dd\s+if=)"),
    re.compile(r"(?:^|[\s;&|`])(?:curl|wget)\s+\S+"),
    re.compile(
        r"\bkubectl\s+(?:delete|exec|apply|patch|edit|scale|rollout|set|cp|run|drain|cordon|"
        r"annotate|label|replace|create)\b"
    ),
    re.compile(r"(?:^|[\s;&|`])(?:/bin/|/usr/bin/|/usr/local/bin/)\w+"),
    re.compile(r"[;&]\s*(?:rm|curl|wget|sh|bash|nc|python3?)\b"),
    re.compile(r"`[^`\n]*\b(?:sh|bash|nc|ssh|scp|eval|exec|systemctl|iptables)\b[^`\n]*`"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse(text: str | None, model: type[A]) -> tuple[A | None, list[str]]:
    """`text` as `model`, or the problems a repair message can name."""
    if not text or not text.strip():
        return None, ["the answer was empty: answer with one JSON object"]
    body = _json_object(text)
    if body is None:
        return None, ["the answer is not a JSON object"]
    try:
        return model.model_validate(body), []
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
            for e in err.errors(include_url=False)[:12]
        ]
        return None, problems


def commands_in(answer: BaseModel) -> list[str]:
    """A problem for every text field of `answer` that holds a command line."""
    problems = []
    for where, text in _strings(answer.model_dump(mode="json"), "answer"):
        if any(p.search(text) for p in _COMMANDS):
            problems.append(
                f"{where} contains a command line; never write commands, choose catalog actions"
            )
    return problems


def unknown_ids(ids: Iterable[str], known: set[str], where: str) -> list[str]:
    """A problem naming every id in `ids` that is not in `known`."""
    missing = sorted({i for i in ids if i not in known})
    if not missing:
        return []
    return [f"{where} cites ids that do not exist: {', '.join(missing[:10])}"]


def plain(text: str, limit: int) -> str:
    """Model text made safe to store and show: no control characters, bounded length."""
    text = _CONTROL.sub("", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_object(text: str) -> Any:
    """The JSON object in `text`, tolerating a Markdown fence or words around it."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        found = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def _strings(node: Any, where: str) -> Iterable[tuple[str, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")
