"""Where the bundled demo scenario lives: only `demo` (and tests) may read it.

Outside `demo` and `eval` no bundled scenario ever answers for a live service (issue 13), so
its path is known here and nowhere else in the product.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_SCENARIO = "demo-shop"


def demo_scenario_path() -> Path:
    """Directory of the bundled demo shop scenario (package data)."""
    return Path(str(resources.files("incidentflow").joinpath("scenarios", DEMO_SCENARIO)))
