"""The postmortems directory: `<id>.md` and `<id>.json`, never overwriting a person's edits.

A sidecar (`.generated.json`) remembers the hash of what IncidentFlow last wrote to each file.
If the file on disk no longer has that hash, a person edited it: the new draft goes beside it as
`<id>.draft.md` (or `.draft.json`) and the edited file is left alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from incidentflow.models import PostMortem
from incidentflow.visible import visible, visible_json

SIDECAR = ".generated.json"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_one(directory: Path, name: str, text: str, hashes: dict[str, str]) -> Path:
    path = directory / name
    if path.exists():
        current = path.read_text()
        if current == text:
            hashes[name] = _sha(text)
            return path
        if hashes.get(name) != _sha(current):
            # A person edited it: keep their version, put the regenerated draft beside it.
            stem, _, ext = name.rpartition(".")
            side = directory / f"{stem}.draft.{ext}"
            side.write_text(text)
            return side
    path.write_text(text)
    hashes[name] = _sha(text)
    return path


def write_postmortem(directory: Path, pm: PostMortem) -> list[Path]:
    """Write Markdown and JSON for `pm`; returns the paths actually written."""
    directory.mkdir(parents=True, exist_ok=True)
    sidecar = directory / SIDECAR
    hashes: dict[str, str] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    written = [
        # Drafts carry no control characters; these calls also keep older records' out.
        _write_one(directory, f"{pm.incident_id}.md", visible(pm.markdown), hashes),
        _write_one(
            directory, f"{pm.incident_id}.json", visible_json(pm.model_dump_json(indent=2)), hashes
        ),
    ]
    sidecar.write_text(json.dumps(hashes, indent=2, sort_keys=True))
    return written
