"""Shared base for every artifact that crosses a seam.

Artifacts are immutable once emitted, forbid unknown fields and carry a schema version, so a
recorded history stays readable when a model grows.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1


class Artifact(BaseModel):
    """Base class for every typed hand-off between agents, workflows and people."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION


class Severity(StrEnum):
    """Incident and alert severity, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most urgent; lower sorts first."""
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def most_urgent(cls, severities: list[Severity]) -> Severity:
        """The most urgent of several severities (INFO when there are none)."""
        return min(severities, key=lambda s: s.rank, default=cls.INFO)


_SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.WARNING, Severity.INFO]


class Engine(StrEnum):
    """Which engine produced an agent artifact."""

    RULES = "rules"
    LLM = "llm"
    PERSON = "person"
