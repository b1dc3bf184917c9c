"""What an LLM engine spent on an artifact: calls, tokens, latency, and where context was cut.

Recorded on the artifact it produced (or on the rules artifact that answered instead), so the
cost of an incident is read from the same record as its conclusions.
"""

from __future__ import annotations

from pydantic import Field

from incidentflow.models.base import Artifact


class LlmUsage(Artifact):
    """One agent's use of the model for one artifact (every call, repairs and tool steps)."""

    agent: str = Field(description="detection | correlation | investigation | remediation | ...")
    model: str
    incident_id: str | None = Field(default=None, description="None for per-batch agents")
    calls: int = Field(default=0, ge=0, description="Chat completion requests sent")
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    latency_ms: int = Field(default=0, ge=0, description="Summed wall time of the calls")
    repairs: int = Field(default=0, ge=0, description="Answers sent back once for repair")
    tool_calls: int = Field(default=0, ge=0, description="Evidence tools the model ran")
    refused: list[str] = Field(
        default_factory=list, description="Why answers (or tool calls) were refused"
    )
    truncated: list[str] = Field(
        default_factory=list, description="Where the context was cut to fit the token budget"
    )

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens
