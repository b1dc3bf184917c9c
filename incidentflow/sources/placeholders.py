"""Query templates as Prometheus and Loki users write them: `{service="{service}"}`.

Only a documented placeholder in braces, `{service}`, is replaced; every other brace is the
query language's own and is left alone. The doubled braces of Python's `str.format`
(`{{service="{service}"}}`, what earlier versions asked for) still work. A template is checked
when its source is built, so a bad one is a one-line error naming its setting at worker start,
not a `ValueError` at the first incident.
"""

from __future__ import annotations

import re

from incidentflow.errors import ConfigError

# The placeholders a template may use, and what each is replaced by.
PLACEHOLDERS = {"service": "the service's name, escaped for a double-quoted string"}
# A name in braces; a regex quantifier such as `a{2}` or `{2,3}` is not one.
_SLOT = re.compile(r"\{([A-Za-z_]\w*)\}")
# Quoted strings hold braces that are data (a regex, a JSON filter), not query structure.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def quoted(value: str) -> str:
    """`value` escaped for a PromQL or LogQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def fill(template: str, *, service: str) -> str:
    """The template with each `{service}` replaced; every other brace kept as written."""
    text = template.replace("{{", "{").replace("}}", "}") if "{{" in template else template
    return _SLOT.sub(
        lambda m: quoted(service) if m.group(1) == "service" else m.group(0),
        text,
    )


def check(template: str, *, setting: str) -> None:
    """Raise a one-line ConfigError naming `setting` when the template cannot work."""
    text = template.replace("{{", "{").replace("}}", "}") if "{{" in template else template
    names = _SLOT.findall(text)
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise ConfigError(
            f"{setting}: unknown placeholder {{{unknown[0]}}} in {template!r}; "
            f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )
    if "{service}" not in text:
        raise ConfigError(
            f"{setting}: {template!r} has no {{service}}, so every service would get the same "
            'answer; write e.g. {service="{service}"}'
        )
    bare = _QUOTED.sub('""', fill(template, service="x"))
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ConfigError(f"{setting}: unbalanced braces in {template!r}")
