"""Text on the incident page: escaped for HTML, control characters visible, Markdown safe.

Everything from alerts, logs and models is untrusted. `text()` is the only way a string reaches
the page; the post-mortem's Markdown is parsed with raw HTML off (markdown-it-py escapes it),
links limited to http(s) and relative ones, and its Mermaid fences shown as code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from incidentflow.visible import visible

# Links a page may follow: the web and this page's own anchors; never javascript: or data:.
SAFE_LINK_PREFIXES = ("http://", "https://", "#", "/")
# Post-mortems whose HTML is kept (a few MB at most: the page's own size, times this).
MARKDOWN_CACHE = 32
# Escaped strings kept: a storm's page repeats a few names, services, states and reasons in
# thousands of cells. Strings longer than TEXT_CACHED_MAX are escaped every time.
TEXT_CACHE = 8_192
TEXT_CACHED_MAX = 200


def text(value: object) -> str:
    """`value` as HTML text: control characters as visible escapes, then HTML-escaped."""
    raw = str(value)
    return _short(raw) if len(raw) <= TEXT_CACHED_MAX else _escaped(raw)


def _escaped(raw: str) -> str:
    return escape(visible(raw), quote=True)


_short = lru_cache(maxsize=TEXT_CACHE)(_escaped)


def href(url: str | None) -> str | None:
    """`url` escaped for an attribute when it is a safe link, else None (shown as text)."""
    if not url:
        return None
    clean = url.strip()
    if not clean.lower().startswith(SAFE_LINK_PREFIXES) or clean.startswith("//"):
        return None
    return text(clean)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.validateLink = lambda url: href(url) is not None  # type: ignore[method-assign]
    renderer: Any = md.renderer  # the HTML renderer; its protocol type does not name `rules`
    default_fence = renderer.rules["fence"]

    def fence(tokens: Sequence[Token], idx: int, options: Any, env: Any, *rest: Any) -> str:
        token = tokens[idx]
        drawn = env.get("diagram", "") if isinstance(env, dict) else ""
        flowchart = token.content.lstrip().startswith(("flowchart", "graph"))
        if token.info.strip().startswith("mermaid") and flowchart and drawn:
            # The page draws the blast radius itself (no Mermaid, no script).
            return f'<figure class="diagram">{drawn}</figure>\n'
        html: str = default_fence(tokens, idx, options, env)
        return html

    renderer.rules["fence"] = fence
    return md


_MD = _markdown()


@lru_cache(maxsize=MARKDOWN_CACHE)
def markdown(source: str, *, diagram: str = "") -> str:
    """Markdown as safe HTML; a Mermaid flowchart becomes `diagram` (an inline SVG).

    Cached: a post-mortem is immutable once drafted, and a long one (a storm's timeline) takes
    hundreds of milliseconds to parse; each later view of the page reuses the HTML.
    """
    rendered: str = _MD.render(visible(source), {"diagram": diagram})
    return rendered
