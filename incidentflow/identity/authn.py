"""Who is calling the decision API: a per-person token, or an OIDC ID/access token (JWT).

Tokens are configured per identity (INCIDENTFLOW_API_TOKENS) and compared in constant time.
A JWT is verified with PyJWT against the configured issuer's JWKS (signature, `iss`, `aud`,
`exp`, `iat`, `nbf`), and the person is the configured claim (`email` by default). Either way
the identity returned is canonical; a token or claim naming a look-alike is refused.
The JWKS is fetched when a JWT first arrives (never at start-up) and cached by PyJWT.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass

import httpx
import jwt

from incidentflow.identity.canonical import NotAnIdentity, canonical
from incidentflow.settings import PeopleSettings

# Seconds of clock skew tolerated on exp/iat/nbf.
JWT_LEEWAY_S = 30
# How long the discovery and JWKS fetches may take (the caller answers 401 after).
FETCH_TIMEOUT_S = 5.0


class Unauthenticated(Exception):
    """No credential, or one that proves nothing (for the 401 body)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated person."""

    identity: str
    method: str  # "token" or "oidc"


class Authenticator:
    """Checks bearer credentials against configured tokens and the OIDC issuer."""

    def __init__(self, cfg: PeopleSettings) -> None:
        self._tokens: list[tuple[bytes, str]] = []
        for name, token in cfg.api_tokens.items():
            try:
                who = canonical(name)
            except NotAnIdentity as err:
                raise ValueError(f"INCIDENTFLOW_API_TOKENS: {err}") from err
            self._tokens.append((token.get_secret_value().encode(), who))
        self._cfg = cfg
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        """True when any person can authenticate at all."""
        return bool(self._tokens) or self._cfg.oidc_issuer is not None

    async def caller(self, authorization: str | None) -> Caller:
        """The person an `Authorization: Bearer ...` header proves, or Unauthenticated."""
        scheme, _, value = (authorization or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise Unauthenticated("send Authorization: Bearer <your token or OIDC token>")
        # Every configured token is compared, so timing says nothing about which one is near.
        matched = [who for token, who in self._tokens if hmac.compare_digest(value.encode(), token)]
        if matched:
            return Caller(identity=matched[0], method="token")
        if self._cfg.oidc_issuer and value.count(".") == 2:
            return await self._oidc(value)
        raise Unauthenticated("unknown token")

    async def _jwks_client(self) -> jwt.PyJWKClient:
        async with self._jwks_lock:
            if self._jwks is None:
                url = self._cfg.oidc_jwks_url or await self._discover()
                self._jwks = jwt.PyJWKClient(url, cache_keys=True, timeout=int(FETCH_TIMEOUT_S))
            return self._jwks

    async def _discover(self) -> str:
        issuer = (self._cfg.oidc_issuer or "").rstrip("/")
        url = f"{issuer}/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S) as http:
                resp = await http.get(url)
            resp.raise_for_status()
            jwks_uri = resp.json()["jwks_uri"]
        except (httpx.HTTPError, ValueError, KeyError) as err:
            raise Unauthenticated(f"the OIDC issuer's discovery document failed: {err}") from err
        if not isinstance(jwks_uri, str):
            raise Unauthenticated("the OIDC discovery document has no jwks_uri")
        return jwks_uri

    async def _oidc(self, token: str) -> Caller:
        s = self._cfg
        client = await self._jwks_client()
        try:
            # PyJWKClient fetches with urllib (blocking): keep it off the event loop.
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=s.oidc_algorithms,
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                leeway=JWT_LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", s.oidc_identity_claim]},
            )
        except jwt.PyJWKClientError as err:
            raise Unauthenticated(f"the token's key is not in the issuer's JWKS: {err}") from err
        except jwt.InvalidTokenError as err:
            raise Unauthenticated(f"invalid token: {err}") from err
        name = claims.get(s.oidc_identity_claim)
        if not isinstance(name, str):
            raise Unauthenticated(f"the token's {s.oidc_identity_claim} claim is not a name")
        try:
            return Caller(identity=canonical(name), method="oidc")
        except NotAnIdentity as err:
            raise Unauthenticated(str(err)) from err
