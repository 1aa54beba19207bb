"""Every feedback and incentives endpoint needs a token (issue 8, "Done when": a caller that
reaches a service port directly with no token, or with only an identity header, gets 401).

The endpoints come from each running service's OpenAPI document, so a route added later is
checked too. Each is called with no token, with only `X-Actor-Id` naming the bootstrap admin,
and with each bad token of the authorization matrix (a deactivated person and one the directory
does not know included, once each service's own directory projection has seen them); a valid
token of a known person gets past authentication (not 401), so the 401s are the token's doing.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from icr.kit.testing import bearer

from .conftest import ADMIN, Platform
from .test_authorization_matrix import EMPLOYEE, GONE, bad_tokens, caller  # noqa: F401

pytestmark = pytest.mark.e2e

# Probes and Prometheus (docs/identity.md); everything else needs a token.
PUBLIC = re.compile(r"^/(health(/|$)|metrics$)")


def _endpoints(base: str) -> list[tuple[str, str]]:
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x-1", path))
        for path, methods in spec["paths"].items()
        for method in methods
        if not PUBLIC.match(path)
    ]
    assert found, f"{base} documents no endpoint"
    return sorted(found)


def _wait_for_directory(mongo: MongoClient[Any], platform: Platform, service: str) -> None:
    """Until the service's projection knows the employee and knows the deactivated person as
    deactivated (before that they are unknown: a 401 too, but not the case under test)."""
    people = mongo[f"{platform.db_prefix}icr_{service}"]["directory_people"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        employee = people.find_one({"_id": EMPLOYEE})
        gone = people.find_one({"_id": GONE})
        if employee and gone and gone["active"] is False:
            return
        time.sleep(0.2)
    raise AssertionError(f"{service}'s directory did not catch up")


def _status(base: str, method: str, path: str, headers: dict[str, str]) -> int:
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return httpx.request(method, base + path, headers=headers, json=body, timeout=10).status_code


@pytest.mark.parametrize("service", ["feedback", "incentives"])
def test_every_endpoint_refuses_a_caller_without_a_good_token(
    platform: Platform,
    caller: Any,  # noqa: F811 - the matrix's directory: people, and one deactivated
    service: str,
) -> None:
    base = getattr(platform, service)
    _wait_for_directory(caller.mongo, platform, service)
    tokens = bad_tokens()
    assert {"no token", "identity header only", "deactivated person", "unknown subject"} <= set(
        tokens
    )
    for method, path in _endpoints(base):
        got = {kind: _status(base, method, path, h) for kind, h in tokens.items()}
        assert got == dict.fromkeys(tokens, 401), (method, path, got)
        assert _status(base, method, path, bearer(EMPLOYEE)) != 401, (method, path)
        assert _status(base, method, path, bearer(ADMIN)) != 401, (method, path)
