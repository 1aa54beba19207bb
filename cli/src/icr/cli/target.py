"""Where the platform is: the gateway and service URLs and the development signing key.

The defaults are those of `make up` (`deploy/local/apps.py`): the apps on ICR_APPS_PORT_BASE
(8000) and up, the profile's key under `$ICR_STATE_DIR/<profile>/identity` (`.local/dev/identity`
from the checkout). Each can be named outright (ICR_GATEWAY_URL, REQUESTS_URL, FEEDBACK_URL,
INCENTIVES_URL, ICR_IDENTITY_DIR)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from icr.kit.devidentity import PRIVATE, DevIssuer

HOST = "127.0.0.1"
# As deploy/local/apps.py: the port offsets from the base and the dev profile's base.
OFFSETS = {"gateway": 0, "requests": 1, "feedback": 2, "incentives": 3}
DEV_BASE = 8000


class TargetError(Exception):
    """The platform cannot be addressed as configured (a clear message for the operator)."""


@dataclass(frozen=True)
class Target:
    urls: dict[str, str]
    identity_dir: Path

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]

    def issuer(self) -> DevIssuer:
        # DevIssuer would create a key pair nobody trusts: refuse a folder without one.
        if not (self.identity_dir / PRIVATE).exists():
            raise TargetError(
                f"no development signing key in {self.identity_dir}: run `make up` first, or "
                "name the key folder with --identity-dir / ICR_IDENTITY_DIR"
            )
        return DevIssuer(self.identity_dir)

    def token(self, person: str, hours: float = 8.0) -> str:
        return self.issuer().token(person, hours=hours)


def resolve(
    *,
    profile: str = "dev",
    identity_dir: str | None = None,
    gateway: str | None = None,
    env: dict[str, str] | None = None,
) -> Target:
    env = dict(os.environ if env is None else env)
    base = int(env.get("ICR_APPS_PORT_BASE") or DEV_BASE)
    urls = {name: f"http://{HOST}:{base + offset}" for name, offset in OFFSETS.items()}
    for name in ("requests", "feedback", "incentives"):
        if env.get(f"{name.upper()}_URL"):
            urls[name] = env[f"{name.upper()}_URL"].rstrip("/")
    if gateway or env.get("ICR_GATEWAY_URL"):
        urls["gateway"] = (gateway or env["ICR_GATEWAY_URL"]).rstrip("/")
    state = Path(env.get("ICR_STATE_DIR") or ".local")
    folder = Path(identity_dir or env.get("ICR_IDENTITY_DIR") or state / profile / "identity")
    return Target(urls=urls, identity_dir=folder)
