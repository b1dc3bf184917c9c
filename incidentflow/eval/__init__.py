"""`incidentflow eval`: run scenario bundles with known answers through the real pipeline.

`runner` drives the bundles through Temporal, the workers and the webhook; `score` compares
what the pipeline concluded with each bundle's `expected.yaml`; `report` totals and prints.
"""

from __future__ import annotations

from pathlib import Path

from incidentflow.errors import BadInput


def find_bundles(paths: list[Path]) -> list[Path]:
    """Each path is a bundle (it has scenario.yaml) or a folder of bundles, sorted by name."""
    out: list[Path] = []
    for path in paths:
        if (path / "scenario.yaml").is_file():
            out.append(path)
        elif path.is_dir():
            found = sorted(p.parent for p in path.glob("*/scenario.yaml"))
            if not found:
                raise BadInput(f"{path} holds no scenario bundle (no */scenario.yaml)")
            out += found
        else:
            raise BadInput(f"{path} is not a scenario bundle or a folder of bundles")
    return list(dict.fromkeys(out))
