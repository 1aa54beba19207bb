"""The bearer-token verifier: every bad token is a 401 that leaks no key material, the settings
refuse unsafe setups, and keys from a JWKS URL (a real HTTP server here) are cached, refetched
on rotation at a bounded rate, and kept while the issuer is down.

Fast tier: no Kafka, no store; the issuer's key server is a small asyncio HTTP server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from icr.kit.auth import (
    DEV_ISSUER,
    MAX_TOKEN_CHARS,
    AuthConfigError,
    IdentityDep,
    InvalidToken,
    KeySet,
    KeysUnavailable,
    MissingToken,
    TokenVerifier,
    challenge,
    install_auth,
)
from icr.kit.devidentity import DEV_AUDIENCE, DevIssuer
from icr.kit.devidentity import main as devidentity_main
from icr.kit.settings import ServiceSettings


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "issuer")


@pytest.fixture
def other_key(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "other")


def settings(**values: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "environment": "development",
        "auth_issuer": DEV_ISSUER,
        "auth_audience": DEV_AUDIENCE,
    }
    return ServiceSettings(**{**base, **values})


def file_verifier(issuer: DevIssuer, **values: Any) -> TokenVerifier:
    return TokenVerifier(settings(auth_jwks_file=str(issuer.jwks_path), **values))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "ana", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": now + 600, **extra}


def without(claim: str) -> dict[str, Any]:
    return {k: v for k, v in claims().items() if k != claim}


def hs256_with_the_public_key(issuer: DevIssuer) -> str:
    """The classic confusion attack: an HMAC token whose secret is the published key."""
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, claims())
    secret = issuer.jwks_path.read_bytes()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


# (name, token builder, the reason's words): every kind of bad token in the issue.
BAD_TOKENS: list[tuple[str, Callable[[DevIssuer, DevIssuer], str], str]] = [
    ("malformed", lambda i, o: "not-a-jwt", "malformed"),
    ("malformed segments", lambda i, o: "abc.def.ghi", "malformed"),
    ("expired", lambda i, o: i.token("ana", hours=-1), "expired"),
    (
        "not yet valid",
        lambda i, o: i.token("ana", nbf=int(time.time()) + 3600),
        "not valid yet",
    ),
    ("wrong issuer", lambda i, o: i.token("ana", issuer="https://evil.example"), "issuer"),
    ("wrong audience", lambda i, o: i.token("ana", audience="someone-else"), "audience"),
    ("unknown key id", lambda i, o: i.token("ana", headers={"kid": "who-knows"}), "key id"),
    ("no key id", lambda i, o: i.sign(claims(), headers={"kid": None}), "key id"),
    ("signed by another key", lambda i, o: o.token("ana", headers={"kid": i.kid}), "signature"),
    ("alg none", lambda i, o: unsigned({"alg": "none", "kid": i.kid}, claims()) + ".", "algo"),
    ("HS256 with the public key", lambda i, o: hs256_with_the_public_key(i), "algorithm"),
    ("missing subject", lambda i, o: i.sign(without("sub")), "sub"),
    ("blank subject", lambda i, o: i.token("  "), "sub"),
    ("missing expiry", lambda i, o: i.sign(without("exp")), "exp"),
    (
        "tampered payload",
        lambda i, o: ".".join(
            [
                i.token("ana").split(".")[0],
                b64(json.dumps(claims(sub="admin")).encode()),
                i.token("ana").split(".")[2],
            ]
        ),
        "signature",
    ),
]


@pytest.mark.parametrize(("kind", "build", "reason"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
async def test_each_bad_token_is_refused_with_its_reason(
    issuer: DevIssuer, other_key: DevIssuer, kind: str, build: Any, reason: str
) -> None:
    verifier = file_verifier(issuer)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(build(issuer, other_key))
    assert reason in str(caught.value), (kind, str(caught.value))
    assert caught.value.error == "invalid_token"


async def test_an_oversized_token_is_refused_before_it_is_parsed_or_keys_fetched(
    issuer: DevIssuer,
) -> None:
    # Signed by the right key, so only its size can be the reason: a token of megabytes would
    # otherwise be decoded, its JSON parsed and its signature checked on every request.
    verifier = file_verifier(issuer)
    fetches = verifier.keys.fetches
    huge = issuer.token("ana", padding="x" * 2_000_000)
    with pytest.raises(InvalidToken, match="too large"):
        await verifier.verify(huge)
    with pytest.raises(InvalidToken, match="too large"):
        await verifier.verify(issuer.token("ana", headers={"kid": "k" * MAX_TOKEN_CHARS}))
    assert verifier.keys.fetches == fetches
    # A large but plausible token (an issuer's many roles and groups) still verifies.
    roles = [f"role-{n:04d}" for n in range(300)]
    assert (await verifier.verify(issuer.token("ana", roles=roles))).subject == "ana"


async def test_a_good_token_names_its_person(issuer: DevIssuer) -> None:
    identity = await file_verifier(issuer).verify(issuer.token("ana", roles=["admin"]))
    assert identity.subject == "ana"
    assert identity.trusted_roles == frozenset()  # roles in a token mean nothing by default


async def test_leeway_accepts_small_clock_skew_only(issuer: DevIssuer) -> None:
    verifier = file_verifier(issuer, auth_leeway_seconds=30)
    now = int(time.time())
    await verifier.verify(issuer.token("ana", exp=now - 10))
    await verifier.verify(issuer.token("ana", nbf=now + 10))
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(issuer.token("ana", exp=now - 60))


async def test_an_algorithm_that_does_not_fit_the_key_is_refused(issuer: DevIssuer) -> None:
    # RS256 is allowed, but the key named is an EC key: never verified as RSA.
    signing_input = unsigned({"alg": "RS256", "kid": issuer.kid}, claims())
    with pytest.raises(InvalidToken, match="does not fit"):
        await file_verifier(issuer).verify(f"{signing_input}.{b64(b'x' * 256)}")


async def test_the_subject_claim_is_configurable(issuer: DevIssuer) -> None:
    verifier = file_verifier(issuer, auth_subject_claim="preferred_username")
    identity = await verifier.verify(issuer.token("uuid-1", preferred_username="ana"))
    assert identity.subject == "ana"
    with pytest.raises(InvalidToken, match="preferred_username"):
        await verifier.verify(issuer.token("uuid-1"))


async def test_trusted_roles_come_from_the_configured_claim_path(issuer: DevIssuer) -> None:
    verifier = file_verifier(issuer, auth_roles_claim="realm_access.roles")
    token = issuer.token("ana", realm_access={"roles": ["admin", 7]}, roles=["manager"])
    assert (await verifier.verify(token)).trusted_roles == frozenset({"admin"})


# -- HTTP answers ----------------------------------------------------------------------------


def app_with(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.verifier = verifier
    install_auth(app)

    @app.get("/me")
    async def me(identity: IdentityDep) -> dict[str, str]:
        return {"subject": identity.subject}

    return app


async def call(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        return await http.get("/me", headers=headers or {})


async def test_missing_token_is_a_401_challenge_without_an_error_code(issuer: DevIssuer) -> None:
    response = await call(app_with(file_verifier(issuer)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="icr"'
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("header", ["Basic YW5hOnB3", "Bearer", "Bearer ", "Token abc"])
async def test_an_authorization_header_that_is_not_bearer_is_refused(
    issuer: DevIssuer, header: str
) -> None:
    response = await call(app_with(file_verifier(issuer)), {"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_identity_header_alone_authenticates_nobody(issuer: DevIssuer) -> None:
    response = await call(app_with(file_verifier(issuer)), {"X-Actor-Id": "admin"})
    assert response.status_code == 401


@pytest.mark.parametrize(("kind", "build", "reason"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
async def test_refusals_leak_no_key_material(
    issuer: DevIssuer, other_key: DevIssuer, kind: str, build: Any, reason: str
) -> None:
    response = await call(
        app_with(file_verifier(issuer)), {"Authorization": f"Bearer {build(issuer, other_key)}"}
    )
    assert response.status_code == 401, kind
    challenge_header = response.headers["www-authenticate"]
    assert challenge_header.startswith('Bearer realm="icr", error="invalid_token"')
    exposed = response.text + challenge_header
    secrets = [issuer.private_path.read_text(), other_key.private_path.read_text()]
    for key in (*issuer.jwks["keys"], *other_key.jwks["keys"]):
        secrets += [key["x"], key["y"]]
    for secret in secrets:
        assert secret not in exposed
    assert "-----BEGIN" not in exposed


async def test_a_good_token_passes_the_dependency(issuer: DevIssuer) -> None:
    response = await call(
        app_with(file_verifier(issuer)), {"Authorization": f"Bearer {issuer.token('ana')}"}
    )
    assert (response.status_code, response.json()) == (200, {"subject": "ana"})


def test_the_challenge_quotes_safely() -> None:
    assert challenge(InvalidToken('a "quoted" reason'))["WWW-Authenticate"].endswith(
        "error_description=\"a 'quoted' reason\""
    )
    assert challenge(MissingToken("x")) == {"WWW-Authenticate": 'Bearer realm="icr"'}


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithms", ["HS256", "ES256,HS512", "none", "ES256,none", "", " , ", "RS1"]
)
def test_the_algorithm_allowlist_takes_asymmetric_algorithms_only(
    issuer: DevIssuer, algorithms: str
) -> None:
    with pytest.raises(AuthConfigError, match="AUTH_ALGORITHMS"):
        file_verifier(issuer, auth_algorithms=algorithms)


async def test_an_algorithm_left_out_of_the_allowlist_is_refused(issuer: DevIssuer) -> None:
    verifier = file_verifier(issuer, auth_algorithms="RS256, EdDSA")
    assert verifier.algorithms == ("RS256", "EdDSA")
    with pytest.raises(InvalidToken, match="algorithm is not accepted"):
        await verifier.verify(issuer.token("ana"))


def test_an_issuer_and_an_audience_are_required(issuer: DevIssuer) -> None:
    with pytest.raises(AuthConfigError, match="AUTH_ISSUER"):
        file_verifier(issuer, auth_issuer="")
    with pytest.raises(AuthConfigError, match="AUTH_AUDIENCE"):
        file_verifier(issuer, auth_audience="")


def test_production_is_the_default_and_needs_an_issuer() -> None:
    assert ServiceSettings().environment == "production"
    with pytest.raises(AuthConfigError, match="AUTH_ISSUER"):
        TokenVerifier(ServiceSettings())


def test_exactly_one_key_source(issuer: DevIssuer) -> None:
    with pytest.raises(AuthConfigError, match="exactly one"):
        TokenVerifier(settings())
    with pytest.raises(AuthConfigError, match="exactly one"):
        file_verifier(issuer, auth_jwks_url="https://issuer.example/certs")


def test_production_refuses_the_jwks_file(issuer: DevIssuer) -> None:
    with pytest.raises(AuthConfigError, match="not from a local file"):
        file_verifier(issuer, environment="production", auth_issuer="https://idp.example")


def test_production_refuses_the_development_issuer() -> None:
    with pytest.raises(AuthConfigError, match="development issuer"):
        TokenVerifier(settings(environment="production", auth_jwks_url="https://idp.example/certs"))


def test_a_missing_or_broken_jwks_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="does not exist"):
        TokenVerifier(settings(auth_jwks_file=str(tmp_path / "none.json")))
    (tmp_path / "bad.json").write_text('{"nokeys": 1}')
    with pytest.raises(AuthConfigError, match="not a JWK set"):
        TokenVerifier(settings(auth_jwks_file=str(tmp_path / "bad.json")))


def test_symmetric_and_private_keys_in_a_jwks_are_never_verification_keys(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    public = issuer.jwks["keys"][0]
    jwks = {
        "keys": [
            {"kty": "oct", "kid": "shared", "k": b64(b"secret")},
            {**public, "kid": "leaked", "d": "AAAA"},
            {**public, "kid": "encryption", "use": "enc"},
            public,
        ]
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(jwks))
    keys = KeySet(settings(auth_jwks_file=str(path)))
    assert list(keys._keys) == [issuer.kid]


# -- the development issuer ------------------------------------------------------------------


def test_the_development_key_is_created_once_and_kept(tmp_path: Path) -> None:
    first = DevIssuer(tmp_path / "id")
    again = DevIssuer(tmp_path / "id")
    assert first.kid == again.kid
    assert first.kid.startswith("icr-dev-")
    assert (first.private_path.stat().st_mode & 0o777) == 0o600
    first.jwks_path.unlink()  # the public half follows from the private key
    assert DevIssuer(tmp_path / "id").jwks_path.exists()


def test_the_cli_prints_a_token_the_services_accept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "id")
    assert devidentity_main(["token", "ana", "--dir", directory]) == 2  # no key yet
    assert devidentity_main(["init", "--dir", directory]) == 0
    capsys.readouterr()
    assert devidentity_main(["token", "ana", "--dir", directory, "--hours", "8"]) == 0
    token = capsys.readouterr().out.strip()
    verifier = file_verifier(DevIssuer(directory))
    identity = asyncio.run(verifier.verify(token))
    assert identity.subject == "ana"
    assert identity.claims["exp"] - identity.claims["iat"] == 8 * 3600


# -- keys from a JWKS URL: a real HTTP server --------------------------------------------------


class KeyServer:
    """The issuer's JWKS endpoint: serves `jwks`, counts its hits, can go down."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.hits = 0
        self.status = 200
        self._server: asyncio.Server | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/certs"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            body = json.dumps(self.jwks).encode()
            reason = {200: "OK", 500: "Internal Server Error"}.get(self.status, "Error")
            writer.write(
                f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()


@pytest.fixture
async def key_server() -> AsyncIterator[KeyServer]:
    server = KeyServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def url_verifier(server: KeyServer, **values: Any) -> TokenVerifier:
    return TokenVerifier(settings(auth_jwks_url=server.url, **values))


async def test_keys_are_fetched_once_and_cached(key_server: KeyServer, issuer: DevIssuer) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(key_server)
    try:
        for _ in range(5):
            assert (await verifier.verify(issuer.token("ana"))).subject == "ana"
    finally:
        await verifier.close()
    assert key_server.hits == 1


async def test_cached_keys_are_refetched_when_they_age(
    key_server: KeyServer, issuer: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(
        key_server, auth_jwks_cache_seconds=0.2, auth_jwks_min_refetch_seconds=0
    )
    try:
        await verifier.verify(issuer.token("ana"))
        await asyncio.sleep(0.3)
        await verifier.verify(issuer.token("ana"))
    finally:
        await verifier.close()
    assert key_server.hits == 2


async def test_a_rotated_key_is_found_by_refetching_on_its_unknown_key_id(
    key_server: KeyServer, issuer: DevIssuer, other_key: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(key_server, auth_jwks_min_refetch_seconds=0.2)
    try:
        await verifier.verify(issuer.token("ana"))
        # The issuer rotates: it publishes the new key next to the old one and signs with it.
        key_server.jwks = {"keys": [*issuer.jwks["keys"], *other_key.jwks["keys"]]}
        await asyncio.sleep(0.25)
        assert (await verifier.verify(other_key.token("bo"))).subject == "bo"
        assert (await verifier.verify(issuer.token("ana"))).subject == "ana"
    finally:
        await verifier.close()
    assert key_server.hits == 2


async def test_unknown_key_ids_refetch_at_a_bounded_rate(
    key_server: KeyServer, issuer: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(key_server, auth_jwks_min_refetch_seconds=0.5)
    try:
        await verifier.verify(issuer.token("ana"))
        await asyncio.sleep(0.6)
        made_up = [issuer.token("ana", headers={"kid": f"made-up-{n}"}) for n in range(30)]
        results = await asyncio.gather(
            *(verifier.verify(t) for t in made_up), return_exceptions=True
        )
        for token in made_up:  # one after another too
            with pytest.raises(InvalidToken, match="key id is unknown"):
                await verifier.verify(token)
    finally:
        await verifier.close()
    assert all(isinstance(r, InvalidToken) for r in results)
    assert key_server.hits == 2  # the first fetch and a single refetch


async def test_issuer_down_at_first_use_is_a_503_not_a_401(issuer: DevIssuer) -> None:
    server = KeyServer()  # never started: its port refuses connections
    verifier = url_verifier(server, auth_jwks_min_refetch_seconds=0.3)
    app = app_with(verifier)
    try:
        response = await call(app, {"Authorization": f"Bearer {issuer.token('ana')}"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert "Retry-After" in response.headers
        assert "www-authenticate" not in response.headers
        # Every request meanwhile gets the same quick answer, without waiting on the issuer.
        with pytest.raises(KeysUnavailable):
            await verifier.verify(issuer.token("ana"))
        assert verifier.keys.fetches == 1
        # The issuer comes back: the next attempt after the pause succeeds.
        server.jwks = issuer.jwks
        await server.start()
        await asyncio.sleep(0.35)
        response = await call(app, {"Authorization": f"Bearer {issuer.token('ana')}"})
        assert response.status_code == 200
    finally:
        await server.stop()
        await verifier.close()


async def test_an_issuer_error_answer_at_first_use_is_unavailable_too(
    key_server: KeyServer, issuer: DevIssuer
) -> None:
    key_server.status = 500
    verifier = url_verifier(key_server)
    try:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(issuer.token("ana"))
    finally:
        await verifier.close()
    assert key_server.hits == 1


async def test_issuer_down_later_keeps_the_cached_keys(
    key_server: KeyServer, issuer: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(
        key_server, auth_jwks_cache_seconds=0.1, auth_jwks_min_refetch_seconds=0
    )
    try:
        await verifier.verify(issuer.token("ana"))
        await key_server.stop()
        await asyncio.sleep(0.15)  # the cache has aged: a refetch is tried and fails
        assert (await verifier.verify(issuer.token("ana"))).subject == "ana"
        assert verifier.keys.fetches == 2
        with pytest.raises(InvalidToken, match="key id is unknown"):
            await verifier.verify(issuer.token("ana", headers={"kid": "rotated"}))
    finally:
        await verifier.close()


async def test_production_never_verifies_with_a_development_key_it_is_served(
    key_server: KeyServer, issuer: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = TokenVerifier(
        ServiceSettings(
            environment="production",
            auth_issuer="https://idp.example/realms/acme",
            auth_jwks_url=key_server.url,
        )
    )
    try:
        token = issuer.token("ana", issuer="https://idp.example/realms/acme", audience="icr")
        with pytest.raises(InvalidToken, match="key id is unknown"):
            await verifier.verify(token)
    finally:
        await verifier.close()


# -- the issuers' usual key types --------------------------------------------------------------


def keycloak_like_jwks(tmp_path: Path) -> tuple[Path, Any, Any]:
    """A JWKS as Keycloak publishes it: an RS256 signing key (with `x5c` and `x5t`), an RSA key
    for encryption, plus an Ed25519 key; returns the file and the two signing keys."""
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_public = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks = {
        "keys": [
            {
                **rsa_public,
                "kid": "kc-sig",
                "alg": "RS256",
                "use": "sig",
                "x5c": ["MIIC"],
                "x5t": "x",
            },
            {**rsa_public, "kid": "kc-enc", "alg": "RSA-OAEP", "use": "enc"},
            {**json.loads(OKPAlgorithm.to_jwk(ed_key.public_key())), "kid": "ed", "use": "sig"},
        ]
    }
    path = tmp_path / "keycloak.json"
    path.write_text(json.dumps(jwks))
    return path, rsa_key, ed_key


async def test_rs256_and_eddsa_tokens_verify_against_an_issuers_jwks(tmp_path: Path) -> None:
    import jwt

    path, rsa_key, ed_key = keycloak_like_jwks(tmp_path)
    verifier = TokenVerifier(settings(auth_jwks_file=str(path)))
    rs = jwt.encode(claims(sub="ana"), rsa_key, algorithm="RS256", headers={"kid": "kc-sig"})
    ed = jwt.encode(claims(sub="bo"), ed_key, algorithm="EdDSA", headers={"kid": "ed"})
    assert (await verifier.verify(rs)).subject == "ana"
    assert (await verifier.verify(ed)).subject == "bo"
    # The encryption key is no verification key; PS256 is off the default allowlist; and an
    # RSA key never verifies an EdDSA token.
    enc = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "kc-enc"})
    with pytest.raises(InvalidToken, match="key id is unknown"):
        await verifier.verify(enc)
    ps = jwt.encode(claims(), rsa_key, algorithm="PS256", headers={"kid": "kc-sig"})
    with pytest.raises(InvalidToken, match="algorithm is not accepted"):
        await verifier.verify(ps)
    mixed = jwt.encode(claims(), ed_key, algorithm="EdDSA", headers={"kid": "kc-sig"})
    with pytest.raises(InvalidToken, match="does not fit"):
        await verifier.verify(mixed)


# -- verified tokens are remembered ----------------------------------------------------------


async def test_a_token_is_verified_once_then_remembered(
    issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jwt

    decoded = []
    real = jwt.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        decoded.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    verifier = file_verifier(issuer)
    token = issuer.token("ana")
    for _ in range(3):
        assert (await verifier.verify(token)).subject == "ana"
    assert len(decoded) == 1
    assert (await verifier.verify(issuer.token("bo"))).subject == "bo"
    assert len(decoded) == 2


async def test_a_remembered_token_still_expires(issuer: DevIssuer) -> None:
    verifier = file_verifier(issuer, auth_leeway_seconds=0)
    token = issuer.sign(claims(exp=int(time.time()) + 1))
    assert (await verifier.verify(token)).subject == "ana"
    await asyncio.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_a_remembered_token_ends_with_its_key(
    key_server: KeyServer, issuer: DevIssuer, other_key: DevIssuer
) -> None:
    key_server.jwks = issuer.jwks
    verifier = url_verifier(
        key_server, auth_jwks_cache_seconds=0.2, auth_jwks_min_refetch_seconds=0
    )
    token = issuer.token("ana")
    try:
        assert (await verifier.verify(token)).subject == "ana"
        key_server.jwks = other_key.jwks  # the issuer rotated the old key away
        await asyncio.sleep(0.3)
        with pytest.raises(InvalidToken, match="key id is unknown"):
            await verifier.verify(token)
    finally:
        await verifier.close()
