"""Decision signatures: the API signs, the incident workflow verifies. Pure; no I/O.

Ed25519 (RFC 8032) through `cryptography`, chosen over an HMAC shared secret because the
verifying side then holds no secret: the workers' public keys travel in the incident's
configuration and so in its history, where an HMAC key could not go, and neither a worker nor
anyone reading a history can forge a decision. Only the ingest/API process holds the private
key. Verification is deterministic, so it runs inside workflow code.

What is signed is the canonical JSON of `DecisionClaims` (sorted keys, no spaces, UTF-8): who,
the verb, the incident, the path, the time, a nonce, the service and roles found, the plan id
and digest, and the sha256 of the request itself (proof left out), so nothing of the request
can change after signing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel

from incidentflow.models.decisions import DecisionClaims, DecisionProof
from incidentflow.models.remediation import RemediationAction

# Fields a request's digest leaves out: the proof cannot sign itself.
UNSIGNED_FIELDS = frozenset({"proof"})


class KeyProblem(ValueError):
    """A key that cannot be read (for a one-line configuration error)."""


def canonical_json(data: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256(data: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(data)).hexdigest()


def request_digest(request: BaseModel) -> str:
    """The digest a proof binds a request by (every field but the proof)."""
    return _sha256(request.model_dump(mode="json", exclude=set(UNSIGNED_FIELDS)))


# What a plan's digest covers: what runs and how it is judged, never its prose. Summaries are
# generated from the params by the catalog, so two plans with the same digest run the same.
DIGESTED_FIELDS = frozenset({"id", "incident_id", "params", "risk", "verify", "undo", "executor"})


def plan_digest(action: RemediationAction | None) -> str | None:
    """The digest of the typed action a person approves; None for a plan without one."""
    if action is None:
        return None
    return _sha256(action.model_dump(mode="json", include=set(DIGESTED_FIELDS)))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))


def public_text(key: Ed25519PublicKey) -> str:
    """A public key as configuration holds it: base64url of its 32 raw bytes."""
    return _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def key_id(public: str) -> str:
    """A public key's short fingerprint, named in every proof it verifies."""
    return hashlib.sha256(public.strip().encode()).hexdigest()[:16]


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from base64url raw bytes (what `decision-keys` prints) or PEM."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyProblem("the PEM key is not an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(_unb64(text))
    except (ValueError, TypeError, binascii.Error) as err:
        raise KeyProblem(f"not an Ed25519 private key ({type(err).__name__})") from err


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64url raw bytes."""
    try:
        return Ed25519PublicKey.from_public_bytes(_unb64(text))
    except (ValueError, TypeError, binascii.Error) as err:
        raise KeyProblem(f"not an Ed25519 public key: {text[:12]}...") from err


def new_key_pair() -> tuple[str, str]:
    """(private, public) as configuration holds them."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return _b64(private), public_text(key.public_key())


class DecisionSigner:
    """The API's signing side: one private key, the public one published to workers."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public = public_text(private_key.public_key())
        self.key_id = key_id(self.public)

    def sign(self, claims: DecisionClaims) -> DecisionProof:
        """Sign `claims`; the proof names the key that verifies it."""
        signature = self._key.sign(canonical_json(claims.model_dump(mode="json")))
        return DecisionProof(claims=claims, key_id=self.key_id, signature=_b64(signature))


def verify(proof: DecisionProof, public_keys: list[str]) -> str | None:
    """None when a listed key made `proof`'s signature over its claims; else what is wrong."""
    keys = {key_id(k): k for k in public_keys}
    if not keys:
        return "no decision verification key is configured (INCIDENTFLOW_DECISION_VERIFY_KEYS)"
    public = keys.get(proof.key_id)
    if public is None:
        return f"signed with an unknown key {proof.key_id[:16]!r}"
    try:
        load_public_key(public).verify(
            _unb64(proof.signature), canonical_json(proof.claims.model_dump(mode="json"))
        )
    except (KeyProblem, InvalidSignature, ValueError, binascii.Error):
        return "the signature does not verify"
    return None
