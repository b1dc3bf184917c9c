"""What a signed decision carries: who (as authenticated), on what, through which path, when.

The decision API (incidentflow/ingest/decisions.py) and the Slack endpoint sign a
`DecisionClaims` with the API's Ed25519 key; the incident workflow verifies the `DecisionProof`
with the public keys its configuration lists (incidentflow/identity/signing.py) and believes
nothing else, except where the embedded single-user setting allows local unsigned decisions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from incidentflow.models.base import Artifact


class DecisionPath(StrEnum):
    """How a decision reached the incident, as recorded in its audit."""

    API = "api"
    SLACK = "slack"
    # The incident page (incidentflow/web/): the same decision service as the API.
    WEB = "web"
    # Unsigned, straight to Temporal: only where INCIDENTFLOW_DECISIONS_ALLOW_UNSIGNED allows.
    LOCAL = "local"
    SIGNAL = "signal"


class Role(StrEnum):
    """What configuration lets a person do for a service (incidentflow/identity/roles.py)."""

    APPROVER = "approver"
    OWNER = "owner"


class DecisionClaims(Artifact):
    """Everything the API vouches for, signed as one canonical JSON document."""

    verb: str = Field(description="approve, reject, or a takeover verb")
    incident_id: str
    identity: str = Field(description="The canonical identity the credential belongs to")
    path: DecisionPath
    at: datetime = Field(description="When the API signed it (UTC)")
    nonce: str = Field(min_length=8, description="Unique per decision: a replay is refused")
    service: str | None = Field(default=None, description="The incident's service when signed")
    roles: list[Role] = Field(default_factory=list, description="Roles found for that service")
    plan_id: str | None = Field(
        default=None, description="The plan the person saw (RemediationPlan.id); approve/reject"
    )
    plan_digest: str | None = Field(
        default=None, description="Its digest (RemediationPlan.digest, plan_digest())"
    )
    request_digest: str = Field(description="sha256 of the request it authorises, proof left out")


class DecisionProof(Artifact):
    """The claims and the API's signature over them."""

    claims: DecisionClaims
    key_id: str = Field(description="Which public key verifies it (its fingerprint)")
    signature: str = Field(description="Ed25519 signature over the canonical claims, base64url")


class DecisionTrust(Artifact):
    """What the incident workflow needs to check decisions; public keys only, no secret."""

    verify_keys: list[str] = Field(
        default_factory=list, description="Ed25519 public keys (base64url, raw 32 bytes)"
    )
    allow_unsigned: bool = Field(
        default=False,
        description="Believe unsigned decisions (`by` as typed): the embedded single-user mode",
    )
    max_age_seconds: int = Field(
        default=300, gt=0, description="How old a signed decision may be when it arrives"
    )
