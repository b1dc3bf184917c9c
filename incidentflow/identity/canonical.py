"""Canonical identities: one spelling per person, before any comparison.

`canonical(name)` applies Unicode NFKC (full-width and styled letters become plain ones),
removes whitespace, control and format characters (zero-width space and joiners, BOM, soft
hyphen, bidi marks), case-folds, and normalises again. A name that is still not trustworthy is
refused with `NotAnIdentity`:
- letters from more than one script (`\u0430lice`, its `a` Cyrillic): a mixed-script look-alike;
- a combining mark left on a Latin letter after NFKC (`ali\u0307ce`);
- a name in another script made only of letters that look Latin (Cyrillic
  `\u0430\u0441\u0435` for `ace`): a whole-script look-alike.
Letters of one non-Latin script that do not all mimic Latin ones (`алиса`) are names like any
other. Pure module: no I/O; safe to import from workflow code.
"""

from __future__ import annotations

import itertools
import unicodedata

# Cyrillic and Greek letters (after case-folding) that render like a Latin letter. Enough to
# recognise a name written to pass for a Latin one; it is not Unicode's full confusables list.
LATIN_LOOKALIKES = frozenset(
    "аеорсухіјѕԁԛԝһӏкмтвнпг"  # Cyrillic
    "οανικρτυχεϲϳ"  # Greek
)
# Character categories that carry no visible letter: removed before comparing.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


class NotAnIdentity(ValueError):
    """A name that cannot stand for one person (empty, or a look-alike)."""


def script_of(char: str) -> str:
    """The script a letter belongs to, from its Unicode name (LATIN, CYRILLIC, GREEK...)."""
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _folded(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(
        c for c in text if not c.isspace() and unicodedata.category(c) not in INVISIBLE_CATEGORIES
    )
    # Case-folding can leave a string unnormalised (e.g. a folded ligature): normalise again.
    return unicodedata.normalize("NFKC", text.casefold())


def canonical(name: str) -> str:
    """The one spelling of `name` that every comparison uses; NotAnIdentity when it has none."""
    text = _folded(name)
    if not text:
        raise NotAnIdentity(f"{name!r} has no visible characters")
    scripts = sorted({script_of(c) for c in text if c.isalpha()})
    if len(scripts) > 1:
        raise NotAnIdentity(
            f"{name!r} mixes scripts ({', '.join(s.lower() for s in scripts)}): "
            "refused as a look-alike"
        )
    for prev, mark in itertools.pairwise(text):
        if unicodedata.category(mark) == "Mn" and script_of(prev) == "LATIN":
            # NFKC composes every accented Latin letter that exists; a mark left over
            # (a dot on an `i`) only changes how a name compares, not how it looks.
            raise NotAnIdentity(
                f"{name!r} carries a combining mark on a Latin letter: refused as a look-alike"
            )
    letters = [c for c in text if c.isalpha()]
    if scripts and scripts[0] != "LATIN" and all(c in LATIN_LOOKALIKES for c in letters):
        raise NotAnIdentity(
            f"{name!r} is written in {scripts[0].lower()} letters that all look Latin: "
            "refused as a look-alike"
        )
    return text


def canonical_or_none(name: str) -> str | None:
    """canonical(name), or None for a name that has no canonical form."""
    try:
        return canonical(name)
    except NotAnIdentity:
        return None


def same_person(a: str, b: str) -> bool:
    """True when both names have the same canonical form (a look-alike is nobody)."""
    ca = canonical_or_none(a)
    return ca is not None and ca == canonical_or_none(b)
