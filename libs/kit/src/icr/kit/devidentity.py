"""A development issuer: one local signing key pair and tokens for any person.

`make up` runs `init` once (the key stays under the ignored state folder), the services read the
public half as AUTH_JWKS_FILE with ENVIRONMENT=development, and `token` prints a token for a
person. Production refuses these keys (their ids start with `icr-dev-`).

    uv run python -m icr.kit.devidentity init --dir .local/dev/identity
    uv run python -m icr.kit.devidentity token ana --dir .local/dev/identity --hours 8
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from icr.kit.auth import DEV_ISSUER, DEV_KEY_PREFIX

__all__ = ["DEV_AUDIENCE", "DEV_ISSUER", "DevIssuer", "main"]

DEV_AUDIENCE = "icr"
PRIVATE = "signing-key.pem"
JWKS = "jwks.json"


class DevIssuer:
    """The key pair in `directory`, created on first use."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.private_path = self.directory / PRIVATE
        self.jwks_path = self.directory / JWKS
        if not self.private_path.exists():
            self._create()
        key = serialization.load_pem_private_key(self.private_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.private_path} is not an EC signing key")
        self._key = key
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        # The key id is the public key's RFC 7638 thumbprint: the JWKS follows from the private
        # key alone, so it is rewritten whenever it is missing or belongs to another key.
        self.kid = DEV_KEY_PREFIX + _thumbprint(public)[:16]
        self.jwks = {"keys": [{**public, "kid": self.kid, "alg": "ES256", "use": "sig"}]}
        if self._published() != self.jwks:
            _write_atomically(self.jwks_path, json.dumps(self.jwks, indent=2).encode())

    def _published(self) -> Any:
        try:
            return json.loads(self.jwks_path.read_text())
        except (OSError, ValueError):
            return None

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written under a name of its own, then linked into place: link fails if another
        # process created the key meanwhile, and then both use that one (never half a key).
        tmp = self.directory / f".{PRIVATE}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, self.private_path)
        finally:
            tmp.unlink(missing_ok=True)

    def token(
        self,
        subject: str,
        *,
        hours: float = 8.0,
        issuer: str = DEV_ISSUER,
        audience: str = DEV_AUDIENCE,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload: dict[str, Any] = {
            "sub": subject,
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(hours=hours),
            **claims,
        }
        return self.sign(payload, headers=headers)

    def sign(self, payload: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """Any payload signed with this key (tests build broken tokens with it); a header
        given as None is left out."""
        fields = {k: v for k, v in {"kid": self.kid, **(headers or {})}.items() if v is not None}
        return jwt.encode(payload, self._key, algorithm="ES256", headers=fields)


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members of an EC key, base64url."""
    members = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(members.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m icr.kit.devidentity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the key pair (if missing); print the JWKS path")
    init.add_argument("--dir", required=True)
    token = commands.add_parser("token", help="print a development token for a person")
    token.add_argument("person")
    token.add_argument("--dir", required=True)
    token.add_argument("--hours", type=float, default=8.0)
    token.add_argument("--issuer", default=DEV_ISSUER)
    token.add_argument("--audience", default=DEV_AUDIENCE)
    args = parser.parse_args(argv)
    if args.command == "init":
        print(DevIssuer(args.dir).jwks_path)
        return 0
    if not args.person.strip():
        parser.error("the person id must not be empty")
    if not 0 < args.hours <= 24 * 30:
        parser.error("--hours must be between 0 and 720")
    if not Path(args.dir, PRIVATE).exists():
        print(f"no development key in {args.dir}: run `make up` first", file=sys.stderr)
        return 2
    issuer = DevIssuer(args.dir)
    print(issuer.token(args.person, hours=args.hours, issuer=args.issuer, audience=args.audience))
    return 0


if __name__ == "__main__":
    sys.exit(main())
