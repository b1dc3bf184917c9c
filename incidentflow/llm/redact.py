"""Mask secrets, e-mail addresses and IP addresses before any text leaves the process.

Applied to every prompt and every tool result the model reads. Masks are labelled
(`[redacted:email]`) so the model knows something was there; ids the answer must cite
(fingerprints, evidence ids, versions) never match these patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Credentials by shape: key=value pairs with a secret-sounding name, bearer tokens, JWTs and
# the prefixes well-known providers put on their keys.
_TOKENS = (
    re.compile(
        r"(?i)\b((?:api[_-]?key|access[_-]?key|secret|token|passw(?:or)?d|pwd|auth)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}"
    ),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    re.compile(
        r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|"
        r"xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})"
    ),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not after a `v` or a dot, so a four-part version (v1.2.3.4) is left alone.
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.])")
_H = r"[0-9A-Fa-f]{1,4}"
# Full (eight groups) or compressed (`::`) forms only: `14:00:12` is a time, not an address.
_IPV6 = re.compile(
    rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}(?::{_H})*)?::(?:{_H}(?::{_H})*)?)(?![\w:])"
)


@dataclass(frozen=True)
class Redactor:
    """Which masks apply; `redact(text)` returns the masked text and how many were masked."""

    kinds: tuple[str, ...] = ("tokens", "emails", "ips")
    patterns: tuple[str, ...] = ()
    _extra: tuple[re.Pattern[str], ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_extra", tuple(re.compile(p) for p in self.patterns))

    def redact(self, text: str) -> str:
        """`text` with every configured mask applied."""
        if "tokens" in self.kinds:
            for pattern in _TOKENS:
                text = pattern.sub(_keep_prefix("[redacted:token]"), text)
        if "emails" in self.kinds:
            text = _EMAIL.sub("[redacted:email]", text)
        if "ips" in self.kinds:
            text = _IPV4.sub("[redacted:ip]", text)
            text = _IPV6.sub("[redacted:ip]", text)
        for pattern in self._extra:
            text = pattern.sub("[redacted]", text)
        return text

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        """Each of `texts`, redacted."""
        return [self.redact(t) for t in texts]


def _keep_prefix(mask: str) -> Callable[[re.Match[str]], str]:
    """Keep a key=value pair's key (group 1, when the pattern has one) and mask the value."""

    def sub(match: re.Match[str]) -> str:
        prefix = match.group(1) if match.re.groups else ""
        return f"{prefix}{mask}"

    return sub
