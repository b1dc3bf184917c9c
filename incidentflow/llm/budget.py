"""Keep what an agent sends within its token budget, and say where it cut.

No tokenizer is available offline and endpoints differ, so tokens are estimated from
characters (`CHARS_PER_TOKEN`, conservative for English and JSON under BPE tokenizers). A
payload over budget first has long strings clipped, then its largest lists shortened from the
end (inputs are ordered most relevant first); every cut is described in a note that goes into
the prompt and into the artifact's `llm_usage.truncated`.
"""

from __future__ import annotations

import json
import math
from typing import Any

CHARS_PER_TOKEN = 4
# A single string (an annotation, a log line) longer than this is clipped before lists are.
MAX_STRING_CHARS = 1500
# Strings are never clipped below this while fitting: below it they stop meaning anything.
MIN_STRING_CHARS = 60
_MAX_ROUNDS = 200


def estimate_tokens(text: str) -> int:
    """Tokens `text` is likely to cost (rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def dumps(payload: Any) -> str:
    """Compact JSON in which `<` and `>` are escaped, so data cannot close its fence."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 30)] + f"… [cut: {len(text)} chars]"


def fit(payload: Any, max_tokens: int) -> tuple[Any, list[str]]:
    """`payload` (JSON-able) within `max_tokens`, and a note for every cut made."""
    budget = max_tokens * CHARS_PER_TOKEN
    data = json.loads(json.dumps(payload, default=str))
    notes: dict[str, str] = {}
    limit = MAX_STRING_CHARS
    _clip_strings(data, limit, "input", notes)
    cut: dict[str, tuple[int, list[Any]]] = {}
    for _ in range(_MAX_ROUNDS):
        size = len(dumps(data))
        if size <= budget:
            break
        found = _largest_list(data, "input")
        if found is not None:
            path, items = found
            cut.setdefault(path, (len(items), items))
            per_item = max(1, len(dumps(items)) // len(items))
            drop = min(len(items) - 1, math.ceil((size - budget) / per_item))
            del items[len(items) - drop :]
            continue
        if limit <= MIN_STRING_CHARS:
            break
        limit = max(MIN_STRING_CHARS, limit // 2)
        _clip_strings(data, limit, "input", notes)
    for path, (before, items) in cut.items():
        notes[path] = f"{path}: kept the first {len(items)} of {before} items"
    return data, sorted(notes.values())


def _clip_strings(node: Any, limit: int, path: str, notes: dict[str, str]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node or [])
    if not isinstance(node, dict | list):
        return
    for key, value in list(items):
        where = f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"
        if isinstance(value, str) and len(value) > limit:
            node[key] = clip(value, limit)
            notes[where] = f"{where}: cut at {limit} of {len(value)} chars"
        elif isinstance(value, dict | list):
            _clip_strings(value, limit, where, notes)


def _largest_list(node: Any, path: str) -> tuple[str, list[Any]] | None:
    """The list with the most characters that still has more than one item."""
    best: tuple[int, str, list[Any]] | None = None
    stack: list[tuple[str, Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, list):
            if len(value) > 1:
                size = len(dumps(value))
                if best is None or size > best[0]:
                    best = (size, where, value)
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            stack += [(f"{where}.{k}", v) for k, v in value.items()]
    return None if best is None else (best[1], best[2])
