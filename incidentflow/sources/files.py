"""Readers for the files evidence comes in: JSON lines, YAML, CSV, Markdown with front matter.

Shared by scenario bundles and by the file-backed sources; every error is `BadInput` naming
the file (and line) that is wrong.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from incidentflow.errors import BadInput
from incidentflow.evidence import (
    ChangeRecord,
    LogLevel,
    LogRecord,
    MetricPoint,
    MetricSeries,
    Runbook,
    SpanRecord,
)

_FRONT_MATTER = "---"


def utc(at: datetime) -> datetime:
    """Naive times are taken as UTC, so comparisons never raise."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def parse_time(value: Any) -> datetime:
    """An RFC 3339 string (or a datetime, or epoch seconds) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    try:
        return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as err:
        raise BadInput(f"not an RFC 3339 time: {value!r}") from err


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise BadInput(f"{path}: {err}") from err
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    return data


def load_metrics_json(path: Path, link_prefix: str) -> list[MetricSeries]:
    """`{"series": [{id, name, service, labels, unit, query, points: [[time, value]]}]}`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BadInput(f"{path}: {err}") from err
    out: list[MetricSeries] = []
    try:
        for raw in data.get("series", []):
            points = [MetricPoint(at=parse_time(t), value=float(v)) for t, v in raw["points"]]
            link = raw.get("link") or f"{link_prefix}#{raw['id']}"
            out.append(MetricSeries.model_validate({**raw, "points": points, "link": link}))
    except (KeyError, TypeError, ValueError, ValidationError) as err:
        raise BadInput(f"{path}: {err}") from err
    return out


def load_metrics_csv(path: Path, link_prefix: str) -> list[MetricSeries]:
    """Long CSV: `series,name,service,unit,time,value` plus optional `query` and `label_*`."""
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    try:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                rows[row["series"]].append(row)
    except (OSError, KeyError, csv.Error) as err:
        raise BadInput(f"{path}: {err}") from err
    out: list[MetricSeries] = []
    for sid, group in rows.items():
        first = group[0]
        try:
            points = [MetricPoint(at=parse_time(r["time"]), value=float(r["value"])) for r in group]
            labels = {k[6:]: v for k, v in first.items() if k.startswith("label_") and v}
            out.append(
                MetricSeries(
                    id=sid,
                    name=first["name"],
                    service=first["service"],
                    unit=first.get("unit", ""),
                    query=first.get("query", ""),
                    labels=labels,
                    points=sorted(points, key=lambda p: p.at),
                    link=f"{link_prefix}#{sid}",
                )
            )
        except (KeyError, ValueError, ValidationError) as err:
            raise BadInput(f"{path}: series {sid}: {err}") from err
    return out


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    try:
        text = path.read_text()
    except OSError as err:
        raise BadInput(f"{path}: {err}") from err
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadInput(f"{path}:{lineno}: {err}") from err
        if not isinstance(raw, dict):
            raise BadInput(f"{path}:{lineno}: expected a JSON object")
        out.append((lineno, raw))
    return out


def log_from_dict(raw: dict[str, Any], link: str | None) -> LogRecord:
    """One structured log line: `time, service, level, message, trace_id, attributes`."""
    return LogRecord(
        at=parse_time(raw["time"]),
        service=raw["service"],
        level=LogLevel(str(raw.get("level", "info")).lower()),
        message=raw["message"],
        trace_id=raw.get("trace_id"),
        attributes={k: str(v) for k, v in raw.get("attributes", {}).items()},
        link=link,
    )


def load_logs(path: Path, link_prefix: str) -> list[LogRecord]:
    """JSON lines, one log record a line, sorted by time."""
    out: list[LogRecord] = []
    for lineno, raw in _json_lines(path):
        try:
            out.append(log_from_dict(raw, f"{link_prefix}#L{lineno}"))
        except (KeyError, ValueError, ValidationError) as err:
            raise BadInput(f"{path}:{lineno}: {err}") from err
    return sorted(out, key=lambda r: r.at)


def load_spans(path: Path, link_prefix: str) -> list[SpanRecord]:
    """JSON lines: `trace_id, span_id, parent_id, service, operation, start, end, status`."""
    out: list[SpanRecord] = []
    for lineno, raw in _json_lines(path):
        try:
            out.append(
                SpanRecord.model_validate(
                    {
                        **raw,
                        "start": parse_time(raw["start"]),
                        "end": parse_time(raw["end"]),
                        "attributes": {k: str(v) for k, v in raw.get("attributes", {}).items()},
                        "link": raw.get("link") or f"{link_prefix}#L{lineno}",
                    }
                )
            )
        except (KeyError, ValueError, ValidationError) as err:
            raise BadInput(f"{path}:{lineno}: {err}") from err
    return sorted(out, key=lambda s: (s.start, s.span_id))


def changes_from_list(items: list[Any], where: str, link_prefix: str) -> list[ChangeRecord]:
    """Change records from parsed YAML/JSON objects, oldest first."""
    out: list[ChangeRecord] = []
    for raw in items:
        try:
            link = raw.get("link") or f"{link_prefix}#{raw['id']}"
            out.append(
                ChangeRecord.model_validate({**raw, "at": parse_time(raw["at"]), "link": link})
            )
        except (AttributeError, KeyError, ValidationError) as err:
            raise BadInput(f"{where}: {err}") from err
    return sorted(out, key=lambda c: (c.at, c.id))


def load_changes(path: Path, link_prefix: str) -> list[ChangeRecord]:
    """`changes:` list from YAML (or JSON, which YAML reads too)."""
    items = read_yaml(path).get("changes", [])
    if not isinstance(items, list):
        raise BadInput(f"{path}: expected `changes:` as a list")
    return changes_from_list(items, str(path), link_prefix)


def load_runbook(path: Path, link: str) -> Runbook:
    """A Markdown runbook; front matter `title`, `alerts`, `services` says what it is for."""
    try:
        text = path.read_text()
    except OSError as err:
        raise BadInput(f"{path}: {err}") from err
    meta: dict[str, Any] = {}
    body = text
    if text.startswith(_FRONT_MATTER):
        head, sep, rest = text[len(_FRONT_MATTER) :].partition(f"\n{_FRONT_MATTER}")
        if not sep:
            raise BadInput(f"{path}: front matter is not closed with ---")
        try:
            loaded = yaml.safe_load(head)
        except yaml.YAMLError as err:
            raise BadInput(f"{path}: front matter: {err}") from err
        meta = loaded if isinstance(loaded, dict) else {}
        body = rest.lstrip("\n")
    title = str(meta.get("title") or path.stem)
    try:
        return Runbook(
            id=path.stem,
            title=title,
            alerts=[str(a) for a in meta.get("alerts", [])],
            services=[str(s) for s in meta.get("services", [])],
            body=body,
            link=str(meta.get("link") or link),
        )
    except (TypeError, ValidationError) as err:
        raise BadInput(f"{path}: {err}") from err


def load_runbooks(folder: Path, link_prefix: str) -> list[Runbook]:
    """Every `*.md` runbook in `folder`, by file name."""
    return [load_runbook(p, f"{link_prefix}/{p.name}") for p in sorted(folder.glob("*.md"))]


def match_runbooks(
    books: list[Runbook], *, alertnames: list[str] | tuple[str, ...], services: list[str]
) -> list[Runbook]:
    """Runbooks naming one of the alerts first, then those naming one of the services."""
    names, svcs = set(alertnames), set(services)
    by_alert = [b for b in books if names & set(b.alerts)]
    by_service = [b for b in books if b not in by_alert and svcs & set(b.services)]
    return [*by_alert, *by_service]
