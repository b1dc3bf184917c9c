"""The decision settings read into what each process needs: the API's signer and role table,
the workers' trust (public keys only). Built at the edge from `Settings.decisions`.
"""

from __future__ import annotations

from incidentflow.errors import ConfigError
from incidentflow.identity.roles import RoleTable
from incidentflow.identity.signing import DecisionSigner, KeyProblem, load_private_key
from incidentflow.models.decisions import DecisionTrust
from incidentflow.settings import DecisionSettings


def signer_from(cfg: DecisionSettings) -> DecisionSigner | None:
    """The API's signer, or None when no decision key is configured."""
    text: str | None = None
    if cfg.decision_signing_key is not None:
        text = cfg.decision_signing_key.get_secret_value()
    elif cfg.decision_signing_key_file is not None:
        try:
            text = cfg.decision_signing_key_file.read_text()
        except OSError as err:
            raise ConfigError(
                f"cannot read INCIDENTFLOW_DECISION_SIGNING_KEY_FILE "
                f"{cfg.decision_signing_key_file}: {err.strerror}"
            ) from err
    if text is None:
        return None
    try:
        return DecisionSigner(load_private_key(text))
    except KeyProblem as err:
        raise ConfigError(
            f"INCIDENTFLOW_DECISION_SIGNING_KEY: {err}; make one with `incidentflow decision-keys`"
        ) from err


def unsigned_allowed(cfg: DecisionSettings, *, embedded: bool) -> bool:
    """The setting, or by default: only with the embedded dev server (`embedded`) and no key."""
    if cfg.decisions_allow_unsigned is not None:
        return cfg.decisions_allow_unsigned
    keyed = (
        cfg.decision_signing_key is not None
        or cfg.decision_signing_key_file is not None
        or bool(cfg.decision_verify_keys)
    )
    return embedded and not keyed


def trust_from(cfg: DecisionSettings, *, embedded: bool) -> DecisionTrust:
    """What the incident workflow checks decisions with (recorded in its history: public)."""
    keys = [k.strip() for k in cfg.decision_verify_keys if k.strip()]
    signer = signer_from(cfg)
    if signer is not None and signer.public not in keys:
        keys.append(signer.public)
    return DecisionTrust(
        verify_keys=keys,
        allow_unsigned=unsigned_allowed(cfg, embedded=embedded),
        max_age_seconds=cfg.decision_max_age_seconds,
    )


def roles_from(cfg: DecisionSettings) -> RoleTable:
    """The role table, or a one-line configuration error."""
    try:
        return RoleTable(cfg.decision_roles)
    except ValueError as err:
        raise ConfigError(str(err)) from err
