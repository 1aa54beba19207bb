"""Bearer tokens: one verifier for the gateway and every service.

Every process verifies the caller's token itself (a caller that reaches a service port directly
gains nothing), against keys from the issuer's JWKS (a URL, or a file for development). The
verified subject is a person id; what that person may do comes from the service's own view of
the directory, never from claims the caller could choose (unless `AUTH_ROLES_CLAIM` says the
issuer's role claim is trusted).

Refused, each with a reason that names no key material: a missing, oversized or malformed
token, an algorithm outside the allowlist (so `alg: none` and HS256-with-the-public-key never
verify), an unknown key id, a key whose type does not fit the algorithm, a bad signature, a
wrong issuer or audience, an expired or not-yet-valid token, a missing subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from icr.kit.http import problem
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

ASYMMETRIC = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
_KEY_TYPE = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}
DEV_KEY_PREFIX = "icr-dev-"
"""Key ids of development keys (`python -m icr.kit.devidentity`); production refuses them."""
DEV_ISSUER = "urn:icr:dev-issuer"
"""The `iss` of development tokens; production refuses to start with it."""
MAX_TOKEN_CHARS = 16_384
"""Longer tokens are refused unread: real ones (Keycloak's with many roles and groups) stay well
under it, and a megabyte token would otherwise be decoded and its signature checked."""
UNAVAILABLE_RETRY_SECONDS = 5.0
"""While no key was ever fetched, a failed fetch is retried at most this often (every request
in between gets a quick 503 instead of waiting on an issuer that is down)."""


class AuthConfigError(Exception):
    """The settings cannot verify tokens safely; the process refuses to start."""


class InvalidToken(Exception):
    """The request carries no acceptable token (401). The message is safe to show."""

    error: str | None = "invalid_token"


class MissingToken(InvalidToken):
    # RFC 6750 §3.1: a request without credentials gets a challenge but no error code.
    error = None


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched and none are cached (503, not the caller's fault)."""


class NotPermitted(Exception):
    """The caller is known but may not do this (403)."""


@dataclass(frozen=True)
class Identity:
    """A verified token: who (the subject claim) and, only when trusted, the issuer's roles."""

    subject: str
    token: str = field(repr=False)
    claims: Mapping[str, Any] = field(repr=False)
    trusted_roles: frozenset[str] = frozenset()


def _check_settings(settings: ServiceSettings) -> tuple[str, ...]:
    algorithms = tuple(a.strip() for a in settings.auth_algorithms.split(",") if a.strip())
    if not algorithms:
        raise AuthConfigError("AUTH_ALGORITHMS is empty")
    weak = [a for a in algorithms if a not in ASYMMETRIC]
    if weak:
        raise AuthConfigError(
            "AUTH_ALGORITHMS may only name asymmetric algorithms "
            f"({', '.join(sorted(ASYMMETRIC))}); refused: {', '.join(weak)}"
        )
    if not settings.auth_issuer:
        raise AuthConfigError("AUTH_ISSUER is required (the `iss` every token must carry)")
    if not settings.auth_audience:
        raise AuthConfigError("AUTH_AUDIENCE is required (the `aud` every token must carry)")
    if bool(settings.auth_jwks_url) == bool(settings.auth_jwks_file):
        raise AuthConfigError("set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE")
    if settings.environment == "production":
        if settings.auth_jwks_file:
            raise AuthConfigError(
                "production reads keys from the issuer (AUTH_JWKS_URL), not from a local file; "
                "set ENVIRONMENT=development to use the development key"
            )
        if settings.auth_issuer == DEV_ISSUER:
            raise AuthConfigError(
                "production refuses the development issuer; set AUTH_ISSUER to a real one"
            )
        if not settings.auth_jwks_url.startswith("https://"):
            # Allowed for an issuer on a private network (a compose network), but the keys
            # decide who anyone is: on an open network plain HTTP lets them be swapped.
            log.warning("AUTH_JWKS_URL is not https: the issuer's keys travel unprotected")
    return algorithms


class KeySet:
    """The issuer's public keys by key id, from a JWKS URL or file.

    Cached for `auth_jwks_cache_seconds`; a token with an unknown `kid` triggers one early
    refetch (key rotation), at most once per `auth_jwks_min_refetch_seconds`, so a stream of
    tokens with made-up key ids cannot make us hammer the issuer. A failed refetch keeps the
    keys we had.
    """

    def __init__(self, settings: ServiceSettings, http: httpx.AsyncClient | None = None) -> None:
        self._url = settings.auth_jwks_url
        self._file = Path(settings.auth_jwks_file) if settings.auth_jwks_file else None
        self._production = settings.environment == "production"
        self._ttl = settings.auth_jwks_cache_seconds
        self._min_refetch = settings.auth_jwks_min_refetch_seconds
        self._http = http
        self._owns_http = False
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._last_attempt = -float("inf")
        self._attempts = 0
        self._lock = asyncio.Lock()
        if self._file is not None:
            # A file is read at once: a missing or broken development key is a start-up error,
            # not 401s. Later reads (an unknown key id: the key was rotated) may fail softly.
            try:
                self._keys = self._parse(self._read_file())
            except FileNotFoundError:
                raise AuthConfigError(f"AUTH_JWKS_FILE {self._file} does not exist") from None
            except ValueError as exc:
                raise AuthConfigError(f"AUTH_JWKS_FILE {self._file}: {exc}") from None
            self._fetched_at = time.monotonic()

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    @property
    def fetches(self) -> int:
        """How many times the keys were loaded or a load was tried (for tests and metrics)."""
        return self._attempts

    async def get(self, kid: str) -> Mapping[str, Any] | None:
        now = time.monotonic()
        if self._fetched_at is None:
            await self._first_fetch()
        elif now - self._fetched_at > self._ttl or kid not in self._keys:
            await self._refresh()
        return self._keys.get(kid)

    async def _first_fetch(self) -> None:
        async with self._lock:
            if self._fetched_at is not None:
                return  # another task fetched while we waited for the lock
            if time.monotonic() - self._last_attempt < min(
                self._min_refetch, UNAVAILABLE_RETRY_SECONDS
            ):
                raise KeysUnavailable("the issuer's keys are unavailable")
            try:
                await self._fetch()
            except (httpx.HTTPError, OSError, ValueError) as exc:
                raise KeysUnavailable("the issuer's keys are unavailable") from exc

    async def _refresh(self) -> None:
        """An early or periodic refetch; on failure the keys we had stay in use."""
        async with self._lock:
            if time.monotonic() - self._last_attempt < self._min_refetch:
                return
            with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
                await self._fetch()

    async def _fetch(self) -> None:
        self._last_attempt = time.monotonic()
        self._attempts += 1
        try:
            keys = self._parse(await self._load())
        except (httpx.HTTPError, OSError, ValueError) as exc:
            log.warning("could not fetch the issuer's keys", extra={"error": repr(exc)})
            raise
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _load(self) -> Any:
        if self._file is not None:
            return self._read_file()
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
            self._owns_http = True
        response = await self._http.get(self._url)
        response.raise_for_status()
        return response.json()

    def _read_file(self) -> Any:
        assert self._file is not None
        return json.loads(self._file.read_text())

    def _parse(self, data: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError("not a JWK set")
        keys: dict[str, dict[str, Any]] = {}
        for key in data["keys"]:
            if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
                continue
            if key.get("kty") not in ("EC", "RSA", "OKP"):
                continue  # symmetric keys are never accepted (no HS confusion)
            if "d" in key or "p" in key:
                continue  # a private key published by mistake is not a verification key
            if key.get("use") not in (None, "sig"):
                continue
            if self._production and key["kid"].startswith(DEV_KEY_PREFIX):
                # Never a verification key in production, whoever publishes it.
                log.error("production ignores a development signing key the issuer publishes")
                continue
            keys[key["kid"]] = key
        return keys


VERIFIED_CACHE_SIZE = 10_000  # distinct tokens remembered per process


class TokenVerifier:
    def __init__(self, settings: ServiceSettings, keys: KeySet | None = None) -> None:
        self.algorithms = _check_settings(settings)
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.subject_claim = settings.auth_subject_claim
        self.leeway = settings.auth_leeway_seconds
        self.roles_claim = settings.auth_roles_claim
        self.keys = keys or KeySet(settings)
        self._prepared: dict[tuple[str, str], Any] = {}
        # Tokens that verified, with the key that verified them and until when they hold: a
        # client sends the same token on every call, and the signature check (ES256) was about
        # half of the gateway's cost of a trivial query. A hit still asks the key set for the
        # key (a rotated-away key ends the entry) and checks the expiry.
        self._verified: dict[str, tuple[Identity, str, Mapping[str, Any], float]] = {}

    async def close(self) -> None:
        await self.keys.close()

    async def verify(self, token: str | None) -> Identity:
        if not token:
            raise MissingToken("a bearer token is required")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken(f"the token is too large (over {MAX_TOKEN_CHARS} characters)")
        hit = self._verified.get(token)
        if hit is not None:
            identity, kid, jwk, until = hit
            if time.time() < until and await self.keys.get(kid) is jwk:
                return identity
            self._verified.pop(token, None)
        identity, kid, jwk = await self._verify(token)
        until = float(identity.claims["exp"]) + self.leeway
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (identity, kid, jwk, until)
        return identity

    async def _verify(self, token: str) -> tuple[Identity, str, Mapping[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key id")
        jwk = await self.keys.get(kid)
        if jwk is None:
            raise InvalidToken("the token's key id is unknown")
        key = self._key(kid, alg, jwk)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", self.subject_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token's issuer is not accepted") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is not meant for this audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is invalid") from None
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject.strip():
            raise InvalidToken(f"the token's {self.subject_claim!r} claim is not a person id")
        return Identity(subject, token, claims, self._trusted_roles(claims)), kid, jwk

    def _trusted_roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The roles of AUTH_ROLES_CLAIM, a dotted path into the claims (Keycloak puts realm
        roles in `realm_access.roles`); none unless that setting trusts the issuer's roles."""
        if not self.roles_claim:
            return frozenset()
        raw: Any = claims
        for part in self.roles_claim.split("."):
            raw = raw.get(part) if isinstance(raw, Mapping) else None
        if isinstance(raw, str):
            raw = raw.split()
        if not isinstance(raw, list):
            return frozenset()
        return frozenset(r for r in raw if isinstance(r, str))

    def _key(self, kid: str, alg: str, jwk: Mapping[str, Any]) -> Any:
        cached = self._prepared.get((kid, alg))
        if cached is not None and cached[0] is jwk:
            return cached[1]
        declared = jwk.get("alg")
        if (declared is not None and declared != alg) or jwk.get("kty") != _KEY_TYPE[alg[:2]]:
            raise InvalidToken("the token's algorithm does not fit its key")
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=alg).key
        except jwt.PyJWTError:
            raise InvalidToken("the token's algorithm does not fit its key") from None
        self._prepared[(kid, alg)] = (jwk, key)
        return key


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header; None when there is none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verifier_of(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


# Declares the scheme in each service's OpenAPI document (so /docs offers "Authorize"); the
# header itself is parsed by bearer_token, which tells a malformed header from a missing one.
_openapi_scheme = HTTPBearer(
    auto_error=False, description="A JWT of the configured issuer; its subject is a person id."
)


async def authenticate(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_openapi_scheme)],
) -> Identity:
    """FastAPI dependency: the verified identity of the caller, or 401."""
    return await verifier_of(request).verify(bearer_token(request))


IdentityDep = Annotated[Identity, Depends(authenticate)]


def challenge(exc: InvalidToken) -> dict[str, str]:
    """RFC 6750's `WWW-Authenticate` for a refused token."""
    value = 'Bearer realm="icr"'
    if exc.error:
        reason = str(exc).replace('"', "'")
        value += f', error="{exc.error}", error_description="{reason}"'
    return {"WWW-Authenticate": value}


async def _invalid_token(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidToken)
    return problem(401, "unauthenticated", str(exc), headers=challenge(exc))


async def _keys_unavailable(_: Request, exc: Exception) -> JSONResponse:
    return problem(503, "unavailable", str(exc), headers={"Retry-After": "5"})


async def _not_permitted(_: Request, exc: Exception) -> JSONResponse:
    return problem(403, "forbidden", str(exc))


def install_auth(app: FastAPI) -> None:
    """The error shapes of authentication, the same in every service."""
    app.add_exception_handler(InvalidToken, _invalid_token)
    app.add_exception_handler(KeysUnavailable, _keys_unavailable)
    app.add_exception_handler(NotPermitted, _not_permitted)


def dev_jwks_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "identity" / "jwks.json"
