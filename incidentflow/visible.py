"""Text from alerts, logs and models made safe to show: control characters become visible escapes.

A terminal obeys escape sequences (colours, cursor moves, window titles, OSC 52 clipboard
writes), carriage returns overwrite what a line said, and bidirectional overrides make text read
differently than it is. None of that may reach a person's terminal or a Markdown file from an
alert annotation, a log line or a model's answer. Each such character is written as a visible
escape instead: `\\x1b`, `\\u202e` in text; in JSON, the `\\u001b` form JSON itself defines, so
the document still parses to the same strings.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (8-bit CSI and OSC among them), the
# Unicode line and paragraph separators, and the bidirectional marks, embeddings, overrides
# and isolates.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_MULTILINE = re.compile(f"[{_CONTROLS}]")
_ONE_LINE = re.compile(f"[\t\n{_CONTROLS}]")


def _text_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible(text: str) -> str:
    """`text` with every control character escaped; newlines and tabs kept."""
    return _MULTILINE.sub(_text_escape, text)


def one_line(text: str) -> str:
    """`text` as one line: newlines and tabs escaped too (a field cannot forge a line)."""
    return _ONE_LINE.sub(_text_escape, text)


def visible_json(document: str) -> str:
    """A JSON document with the control characters a JSON encoder leaves raw escaped as \\uXXXX.

    Encoders escape U+0000-U+001F inside strings but write DEL, C1 controls and bidi marks as
    they are; those can only sit inside strings, where `\\uXXXX` means the same character.
    """
    return _MULTILINE.sub(_json_escape, document)
