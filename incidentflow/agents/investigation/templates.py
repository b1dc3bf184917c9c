"""Log template mining, Drain-style: one template per kind of message, variables masked.

Messages are tokenised on whitespace; obvious variables (numbers, hex ids, UUIDs, IPs, quoted
values) are masked first. A fixed-depth tree keyed by token count and the first token leads
to a few candidate templates; a message joins the most similar one when at least
`SIMILARITY` of its tokens agree, and the tokens that differ become `<*>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Fraction of positions that must agree for a message to join a template (Drain's st).
SIMILARITY = 0.5
WILDCARD = "<*>"
# Templates per leaf: enough for any one service's vocabulary in an incident window.
MAX_PER_LEAF = 64
_MASKS = (
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I),
    re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:ms|s|m|h|%|kb|mb|gb|b)?(?![\w.])", re.I),
)


@dataclass
class Template:
    """A mined template and the indexes of the messages it covers."""

    tokens: list[str]
    members: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The template as one string, variables shown as `<*>`."""
        return " ".join(self.tokens)


def mask(message: str) -> list[str]:
    """Tokens of `message` with obvious variables replaced by the wildcard."""
    text = message
    for pattern in _MASKS:
        text = pattern.sub(WILDCARD, text)
    return text.split()


def _similarity(template: list[str], tokens: list[str]) -> float:
    same = sum(1 for a, b in zip(template, tokens, strict=True) if a == b and a != WILDCARD)
    fixed = sum(1 for a in template if a != WILDCARD) or 1
    return same / max(fixed, len(tokens) - template.count(WILDCARD), 1)


def mine(messages: list[str]) -> list[Template]:
    """Templates of `messages` in first-seen order; each message belongs to exactly one."""
    tree: dict[tuple[int, str], list[Template]] = {}
    order: list[Template] = []
    for index, message in enumerate(messages):
        tokens = mask(message) or [WILDCARD]
        head = tokens[0] if not any(ch.isdigit() for ch in tokens[0]) else WILDCARD
        leaf = tree.setdefault((len(tokens), head), [])
        best: Template | None = None
        best_sim = -1.0
        for tpl in leaf:
            sim = _similarity(tpl.tokens, tokens)
            if sim > best_sim:
                best, best_sim = tpl, sim
        if best is not None and best_sim >= SIMILARITY:
            best.tokens = [
                a if a == b else WILDCARD for a, b in zip(best.tokens, tokens, strict=True)
            ]
            best.members.append(index)
            continue
        tpl = Template(tokens=list(tokens), members=[index])
        if len(leaf) < MAX_PER_LEAF:
            leaf.append(tpl)
        order.append(tpl)
    return order
