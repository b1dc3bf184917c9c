"""Detection and correlation rules as a user configures them (INCIDENTFLOW_RULES_PATH YAML).

Matchers use Alertmanager's syntax: `name="value"`, `name!="value"`, `name=~"regex"`,
`name!~"regex"` (regexes are fully anchored, as in Alertmanager). See docs/ingest.md.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from incidentflow.errors import ConfigError

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Matcher(BaseModel):
    """One Alertmanager matcher."""

    model_config = ConfigDict(frozen=True)

    label: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """`severity=~"warning|info"` -> Matcher; ValueError naming the text otherwise."""
        m = _MATCHER.match(text)
        if m is None:
            raise ValueError(f'not an Alertmanager matcher: {text!r} (want name="value")')
        label, op, value = m.groups()
        value = value.replace('\\"', '"').replace("\\\\", "\\")
        if op in ("=~", "!~"):
            re.compile(value)
        return cls(label=label, op=op, value=value)

    def matches(self, labels: dict[str, str]) -> bool:
        """A missing label matches as the empty string, as in Alertmanager."""
        have = labels.get(self.label, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = re.fullmatch(self.value, have) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


class _Matched(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: list[Matcher] = Field(min_length=1)

    @field_validator("matchers", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, list):
            return [Matcher.parse(v) if isinstance(v, str) else v for v in value]
        return value

    def applies(self, labels: dict[str, str]) -> bool:
        """All matchers match (Alertmanager's AND)."""
        return all(m.matches(labels) for m in self.matchers)

    @property
    def described(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"


class NoiseRule(_Matched):
    """Alerts that never page: known noise, with the reason people gave."""

    reason: str = "known noise"


class Silence(_Matched):
    """An Alertmanager-style silence: matchers and an absolute time window."""

    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = "unknown"

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


class MaintenanceWindow(_Matched):
    """A recurring window (weekdays and a time of day, in a time zone), like a time interval."""

    name: str
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(WEEKDAYS)  # type: ignore[arg-type]
    )
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    def active(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        if WEEKDAYS[local.weekday()] not in self.weekdays:
            return False
        now = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # over midnight


class DetectionRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service_labels: list[str] = Field(
        default_factory=lambda: [
            "service",
            "app",
            "app_kubernetes_io_name",
            "job",
            "container",
            "namespace",
        ]
    )
    noise: list[NoiseRule] = Field(default_factory=list)
    silences: list[Silence] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    flap_changes: int = Field(
        default=3, ge=2, description="Status changes within the flap window that mean flapping"
    )


class CorrelationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group_by: list[str] = Field(
        default_factory=list,
        description='Alertmanager group_by: labels, or ["..."] for all labels; [] = topology',
    )
    topology: bool = Field(default=True, description="Group alerts on nearby services too")
    group_window_seconds: int = Field(default=600, gt=0)
    group_hops: int = Field(default=2, ge=0, le=6)
    join_hops: int = Field(default=2, ge=0, le=6)


class Rules(BaseModel):
    """The whole rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detection: DetectionRules = Field(default_factory=DetectionRules)
    correlation: CorrelationRules = Field(default_factory=CorrelationRules)


def load_rules(path: Path | None) -> Rules:
    """The rules file, or the defaults; ConfigError naming the bad part."""
    if path is None:
        return Rules()
    try:
        return Rules.model_validate(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError, ValidationError, ValueError) as err:
        raise ConfigError(f"INCIDENTFLOW_RULES_PATH={path}: {str(err)[:500]}") from err
