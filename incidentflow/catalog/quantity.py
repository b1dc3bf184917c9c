"""Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1G`) as numbers, to bound a change."""

from __future__ import annotations

import re

_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def parse(text: str) -> float | None:
    """The quantity's value in base units, or None when it is not one."""
    found = _QUANTITY.match(text)
    if found is None:
        return None
    return float(found.group(1)) * _SUFFIX[found.group(2) or ""]


def scaled(text: str, factor: float) -> str:
    """`text` times `factor`, written in the unit it was written in (rounded up)."""
    found = _QUANTITY.match(text)
    if found is None:
        raise ValueError(f"not a quantity: {text!r}")
    value = float(found.group(1)) * factor
    whole = int(value) if value == int(value) else int(value) + 1
    return f"{whole}{found.group(2) or ''}"
