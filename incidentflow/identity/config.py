"""The decision settings read into what each process needs: the API's signer and role table,
the workers' trust (public keys only). Built at the edge from `Settings`.
"""

from __future__ import annotations

from incidentflow.errors import ConfigError
from incidentflow.identity.roles import RoleTable
from incidentflow.identity.signing import DecisionSigner, KeyProblem, load_private_key
from incidentflow.models.decisions import DecisionTrust
from incidentflow.settings import Settings


def signer_from(settings: Settings) -> DecisionSigner | None:
    """The API's signer, or None when no decision key is configured."""
    text: str | None = None
    if settings.decision_signing_key is not None:
        text = settings.decision_signing_key.get_secret_value()
    elif settings.decision_signing_key_file is not None:
        try:
            text = settings.decision_signing_key_file.read_text()
        except OSError as err:
            raise ConfigError(
                f"cannot read INCIDENTFLOW_DECISION_SIGNING_KEY_FILE "
                f"{settings.decision_signing_key_file}: {err.strerror}"
            ) from err
    if text is None:
        return None
    try:
        return DecisionSigner(load_private_key(text))
    except KeyProblem as err:
        raise ConfigError(
            f"INCIDENTFLOW_DECISION_SIGNING_KEY: {err}; make one with `incidentflow decision-keys`"
        ) from err


def unsigned_allowed(settings: Settings) -> bool:
    """The setting, or by default: only the embedded dev server with no decision key at all."""
    if settings.decisions_allow_unsigned is not None:
        return settings.decisions_allow_unsigned
    keyed = (
        settings.decision_signing_key is not None
        or settings.decision_signing_key_file is not None
        or bool(settings.decision_verify_keys)
    )
    return settings.temporal_address is None and not keyed


def trust_from(settings: Settings) -> DecisionTrust:
    """What the incident workflow checks decisions with (recorded in its history: public)."""
    keys = [k.strip() for k in settings.decision_verify_keys if k.strip()]
    signer = signer_from(settings)
    if signer is not None and signer.public not in keys:
        keys.append(signer.public)
    return DecisionTrust(
        verify_keys=keys,
        allow_unsigned=unsigned_allowed(settings),
        max_age_seconds=settings.decision_max_age_seconds,
    )


def roles_from(settings: Settings) -> RoleTable:
    """The role table, or a one-line configuration error."""
    try:
        return RoleTable(settings.decision_roles)
    except ValueError as err:
        raise ConfigError(str(err)) from err
