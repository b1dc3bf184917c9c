"""The one exception hierarchy of IncidentFlow. Every error carries what a person needs."""

from __future__ import annotations


class IncidentFlowError(Exception):
    """Base class; the message is one line that says what to do."""


class ConfigError(IncidentFlowError):
    """A setting is missing or wrong; the message names the environment variable."""


class TemporalUnavailable(IncidentFlowError):
    """The Temporal server could not be reached or did not answer in time."""


class IncidentNotFound(IncidentFlowError):
    """No incident workflow with that id."""


class DecisionRefused(IncidentFlowError):
    """An approve or reject that the incident cannot take now."""


class BadInput(IncidentFlowError):
    """A file or payload that cannot be parsed; the message says which part."""


class ExecutorFailed(IncidentFlowError):
    """An executor refused or failed an action for good (bad target, non-zero exit, 4xx)."""


class ExecutorUnavailable(IncidentFlowError):
    """An executor's target did not answer (timeout, 5xx): worth retrying."""


class EvidenceUnavailable(IncidentFlowError):
    """An evidence source did not answer usefully (down, 5xx, timeout, garbage): retryable."""


class LlmUnavailable(IncidentFlowError):
    """The model endpoint did not answer usefully (429, 5xx, timeout, refused connection).

    Worth retrying: Temporal does, with backoff; `retry_after` is the server's hint, if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
