"""The authorization matrix (issue 8, "Done when"), on the platform's real processes.

Every requests-service endpoint, found in the running service's OpenAPI document (a new route
without a row here fails `test_every_endpoint_has_a_row`), is called on the service's own port
with no token, with each kind of bad token, and as an employee (the requester), an agent and
the manager of the providing department, an admin, and a person of another department. Each
cell's status is asserted, and a refused call changes nothing in the service's store.

The gateway's operations get the same callers: bad tokens are GraphQL errors with code
UNAUTHENTICATED and reach no service; good ones get what the service's rules give.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from icr.kit.devidentity import DEV_AUDIENCE, DEV_ISSUER, DevIssuer
from icr.kit.testing import bearer, issuer_for_tests

from .conftest import ADMIN, Platform

pytestmark = pytest.mark.e2e

U = secrets.token_hex(3)
IT, SALES, HR, OPS = f"mx-it-{U}", f"mx-sales-{U}", f"mx-hr-{U}", f"mx-ops-{U}"
EMPLOYEE, AGENT, MANAGER, OTHER = f"mx-ana-{U}", f"mx-bo-{U}", f"mx-ivy-{U}", f"mx-eve-{U}"
ROOT = f"mx-root-{U}"  # an admin of the directory (the bootstrap admin only loads it)
GONE, GHOST = f"mx-gone-{U}", f"mx-ghost-{U}"
LAPTOP, CONTRACT = f"mx-laptop-{U}", f"mx-contract-{U}"
PERSONAS = {
    "employee": EMPLOYEE,  # of Sales, the requester
    "agent": AGENT,  # of IT, the providing department
    "manager": MANAGER,  # IT's manager
    "admin": ROOT,
    "other": OTHER,  # an agent of HR, unrelated to the request
}
WEEK = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TARGETS = {
    p: {"first_response_minutes": 600, "resolution_minutes": 6000}
    for p in ("low", "medium", "high", "critical")
}
# The service's business documents; the outbox and schedule fields the background relay and
# SLA scheduler maintain are left out of the comparison.
COLLECTIONS = (
    "requests",
    "departments",
    "people",
    "catalog_items",
    "catalog_item_versions",
    "directory_imports",
)
VOLATILE = ("outbox", "sla_next_check_at", "auto_close_at")


# -- bad tokens ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": EMPLOYEE, "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": now + 600, **extra}


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def _hs256_with_the_public_key() -> str:
    issuer = issuer_for_tests()
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, _claims())
    mac = hmac.new(issuer.jwks_path.read_bytes(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(mac.digest())}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bad_tokens() -> dict[str, dict[str, str]]:
    issuer = issuer_for_tests()
    stranger = DevIssuer(tempfile.mkdtemp(prefix="icr-stranger-"))
    without_sub = {k: v for k, v in _claims().items() if k != "sub"}
    return {
        "no token": {},
        "identity header only": {"X-Actor-Id": ADMIN},
        "not bearer": {"Authorization": f"Basic {_b64(ADMIN.encode() + b':x')}"},
        "malformed": _auth("not.a.jwt"),
        "expired": bearer(EMPLOYEE, hours=-1),
        "not yet valid": bearer(EMPLOYEE, nbf=int(time.time()) + 3600),
        "wrong issuer": bearer(EMPLOYEE, issuer="https://evil.example"),
        "wrong audience": bearer(EMPLOYEE, audience="another-app"),
        "unknown key id": bearer(EMPLOYEE, headers={"kid": "rotated-away"}),
        "signed by another key": _auth(stranger.token(ADMIN, headers={"kid": issuer.kid})),
        "alg none": _auth(_unsigned({"alg": "none", "kid": issuer.kid}, _claims()) + "."),
        "HS256 with the public key": _auth(_hs256_with_the_public_key()),
        "missing subject": _auth(issuer.sign(without_sub)),
        "unknown subject": bearer(GHOST),
        "deactivated person": bearer(GONE),
    }


# -- the rows --------------------------------------------------------------------------------

PUBLIC = dict.fromkeys(PERSONAS, 200)
EVERYONE = dict.fromkeys(PERSONAS, 200)
ADMIN_ONLY = {"employee": 403, "agent": 403, "manager": 403, "admin": 200, "other": 403}
CREATED_BY_ADMIN = {**ADMIN_ONLY, "admin": 201}
# On a request of Sales to IT: who sees it, and who may act on which side.
PROVIDER = {"employee": 403, "agent": 200, "manager": 200, "admin": 200, "other": 404}
REQUESTER = {"employee": 200, "agent": 403, "manager": 403, "admin": 200, "other": 404}
ONLY_REQUESTER = {**REQUESTER, "admin": 403}  # admins may not speak for the requester
PARTIES = {"employee": 200, "agent": 200, "manager": 200, "admin": 200, "other": 404}


@dataclass(frozen=True)
class Row:
    expect: dict[str, int]
    state: str | None = None  # the request the call acts on, prepared fresh for each caller
    body: Callable[[str], Any] | None = None  # from the calling persona's name
    params: dict[str, Any] = field(default_factory=dict)
    public: bool = False


def _department(persona: str) -> dict[str, Any]:
    return {"name": {"en": f"New {persona}"}, "calendar": {"timezone": "UTC", "week": WEEK}}


def _item(persona: str) -> dict[str, Any]:
    return {
        "provider_department_id": IT,
        "name": {"en": f"Item by {persona}"},
        "owning_team": "desk",
        "targets": TARGETS,
    }


def _import(persona: str) -> list[dict[str, Any]]:
    row = {"kind": "department", "id": f"mx-imp-{persona}-{U}", "name_en": "I", "timezone": "UTC"}
    return [row]


SUBMIT = {"catalog_item_id": LAPTOP, "title": "Laptop", "form": {"model": "pro"}}

MATRIX: dict[str, Row] = {
    "GET /health/live": Row(PUBLIC, public=True),
    "GET /health/ready": Row(PUBLIC, public=True),
    "GET /metrics": Row(PUBLIC, public=True),
    "PUT /departments/{department_id}": Row(CREATED_BY_ADMIN, body=_department),
    "GET /departments": Row(EVERYONE),
    "PUT /people/{person_id}": Row(
        CREATED_BY_ADMIN, body=lambda p: {"name": p, "department_id": SALES, "roles": ["admin"]}
    ),
    "GET /people": Row(EVERYONE, params={"id": EMPLOYEE}),
    "GET /people/{person_id}": Row(EVERYONE),
    "POST /directory/import": Row(ADMIN_ONLY, body=_import),
    "PUT /catalog/items/{item_id}": Row({**CREATED_BY_ADMIN, "manager": 201}, body=_item),
    "GET /catalog/items/{item_id}": Row(EVERYONE),
    "GET /catalog/items": Row(EVERYONE, params={"department": IT}),
    "POST /requests": Row(dict.fromkeys(PERSONAS, 201), body=lambda p: SUBMIT),
    "GET /requests": Row(EVERYONE),
    "GET /requests/batch": Row(EVERYONE, state="submitted"),
    "GET /requests/{request_id}": Row(PARTIES, state="submitted"),
    "POST /requests/{request_id}/accept": Row(PROVIDER, state="submitted"),
    "POST /requests/{request_id}/assign": Row(
        PROVIDER, state="submitted", body=lambda p: {"assignee_id": AGENT}
    ),
    "POST /requests/{request_id}/start": Row(PROVIDER, state="accepted"),
    "POST /requests/{request_id}/ask": Row(
        PROVIDER, state="accepted", body=lambda p: {"question": "Which colour?"}
    ),
    "POST /requests/{request_id}/reply": Row(
        ONLY_REQUESTER, state="waiting", body=lambda p: {"message": "Black"}
    ),
    "POST /requests/{request_id}/resolve": Row(
        PROVIDER, state="in_progress", body=lambda p: {"note": "Delivered"}
    ),
    "POST /requests/{request_id}/close": Row(REQUESTER, state="resolved"),
    "POST /requests/{request_id}/reopen": Row(
        REQUESTER, state="resolved", body=lambda p: {"reason": "Broken"}
    ),
    "POST /requests/{request_id}/reject": Row(
        PROVIDER, state="submitted", body=lambda p: {"reason": "Out of scope"}
    ),
    "POST /requests/{request_id}/cancel": Row(
        REQUESTER, state="submitted", body=lambda p: {"reason": "Not needed"}
    ),
    "POST /requests/{request_id}/comment": Row(
        PARTIES, state="submitted", body=lambda p: {"body": "Hello"}
    ),
    "POST /requests/{request_id}/note": Row(
        PROVIDER, state="submitted", body=lambda p: {"body": "Check the budget"}
    ),
    "POST /requests/{request_id}/subrequest": Row(
        {**PROVIDER, "agent": 201, "manager": 201, "admin": 201},
        state="accepted",
        body=lambda p: {"catalog_item_id": CONTRACT, "title": "Contract review"},
    ),
}


# -- the platform ----------------------------------------------------------------------------


class Caller:
    """Calls the requests service's port directly, and reads its store."""

    def __init__(self, platform: Platform) -> None:
        self.http = httpx.Client(base_url=platform.requests, timeout=10)
        url = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true")
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(url)
        self.db = self.mongo[f"{platform.db_prefix}icr_requests"]

    def as_(self, person: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, headers=bearer(person), **kw)

    def ok(self, person: str, method: str, path: str, **kw: Any) -> Any:
        response = self.as_(person, method, path, **kw)
        assert response.status_code in (200, 201), (method, path, response.text)
        return response.json()

    def digest(self) -> str:
        """What the service has stored, short of the relay's and scheduler's bookkeeping."""
        h = hashlib.sha256()
        for name in COLLECTIONS:
            for doc in self.db[name].find({}).sort("_id", 1):
                kept = {k: v for k, v in doc.items() if not k.startswith(VOLATILE)}
                h.update(json.dumps(kept, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def request_in(self, state: str | None) -> str | None:
        """A fresh request of the employee to IT, brought to `state` by IT's agent."""
        if state is None:
            return None
        rid: str = self.ok(EMPLOYEE, "POST", "/requests", json=SUBMIT)["id"]
        steps = {
            "submitted": [],
            "accepted": [("accept", None)],
            "in_progress": [("accept", None), ("start", None)],
            "waiting": [("accept", None), ("ask", {"question": "Which colour?"})],
            "resolved": [("accept", None), ("start", None), ("resolve", {"note": "Done"})],
        }[state]
        for action, body in steps:
            self.ok(AGENT, "POST", f"/requests/{rid}/{action}", json=body)
        return rid

    def close(self) -> None:
        self.http.close()
        self.mongo.close()


@pytest.fixture(scope="module")
def caller(platform: Platform) -> Iterator[Caller]:
    caller = Caller(platform)
    try:
        for dept in (IT, SALES, HR, OPS):
            caller.ok(ADMIN, "PUT", f"/departments/{dept}", json=_department(dept))
        people = [
            (EMPLOYEE, SALES, ["employee"]),
            (AGENT, IT, ["agent"]),
            (MANAGER, IT, ["manager"]),
            (OTHER, HR, ["agent"]),
            (GONE, SALES, ["employee"]),
            (ROOT, OPS, ["admin"]),
        ]
        for person, dept, roles in people:
            body = {"name": person, "department_id": dept, "roles": roles}
            caller.ok(ADMIN, "PUT", f"/people/{person}", json=body)
        laptop = {
            **_item("admin"),
            "fields": [
                {"type": "choice", "name": "model", "required": True, "options": ["std", "pro"]}
            ],
        }
        caller.ok(ADMIN, "PUT", f"/catalog/items/{LAPTOP}", json=laptop)
        contract = {**_item("admin"), "provider_department_id": HR}
        caller.ok(ADMIN, "PUT", f"/catalog/items/{CONTRACT}", json=contract)
        # A person who had access, then was deactivated: their valid token is refused.
        gone = {"name": GONE, "department_id": SALES, "roles": ["employee"], "active": False}
        caller.ok(ADMIN, "PUT", f"/people/{GONE}", json=gone)
        yield caller
    finally:
        caller.close()


def call(
    caller: Caller,
    row: Row,
    key: str,
    persona: str,
    headers: dict[str, str],
    rid: str | None = None,
) -> int:
    """The status of one cell; a refused call must leave the store as it was."""
    method, template = key.split(" ", 1)
    rid = rid or caller.request_in(row.state)
    path = template.format(
        request_id=rid,
        department_id=f"mx-new-{persona}-{U}",
        person_id=f"mx-new-{persona}-{U}" if method == "PUT" else EMPLOYEE,
        item_id=f"mx-item-{persona}-{U}" if method == "PUT" else LAPTOP,
    )
    params = {"id": [rid]} if key == "GET /requests/batch" else row.params
    body = row.body(persona) if row.body else None
    before = caller.digest()
    response = caller.http.request(method, path, headers=headers, params=params, json=body)
    if response.status_code >= 400:
        assert caller.digest() == before, f"{key} as {persona}: refused but wrote"
    elif method != "GET":  # the digest sees writes: its silence on refusals means something
        assert caller.digest() != before, f"{key} as {persona}: accepted but wrote nothing"
    return response.status_code


# -- the requests service --------------------------------------------------------------------


def test_every_endpoint_has_a_row(platform: Platform) -> None:
    spec = httpx.get(f"{platform.requests}/openapi.json", timeout=10).json()
    endpoints = {f"{m.upper()} {p}" for p, methods in spec["paths"].items() for m in methods}
    assert endpoints == set(MATRIX), (
        f"without a row: {sorted(endpoints - set(MATRIX))}; "
        f"rows of no endpoint: {sorted(set(MATRIX) - endpoints)}"
    )


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_each_caller_gets_the_status_of_its_cell(caller: Caller, key: str) -> None:
    row = MATRIX[key]
    got = {p: call(caller, row, key, p, bearer(person)) for p, person in PERSONAS.items()}
    assert got == row.expect, key


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_every_bad_token_is_a_401_and_writes_nothing(caller: Caller, key: str) -> None:
    row = MATRIX[key]
    rid = caller.request_in(row.state)  # one is enough: none of these calls may change it
    got = {kind: call(caller, row, key, "bad", h, rid) for kind, h in bad_tokens().items()}
    expected = dict.fromkeys(got, 200 if row.public else 401)
    assert got == expected, key


def test_a_refusal_names_the_scheme_and_leaks_no_key(caller: Caller) -> None:
    issuer = issuer_for_tests()
    for kind, headers in bad_tokens().items():
        response = caller.http.get("/requests", headers=headers)
        assert response.status_code == 401, kind
        assert response.headers["www-authenticate"].startswith('Bearer realm="icr"'), kind
        assert response.json()["error"]["code"] == "unauthenticated", kind
        exposed = response.text + response.headers["www-authenticate"]
        for secret in (issuer.jwks["keys"][0]["x"], issuer.jwks["keys"][0]["y"], "BEGIN"):
            assert secret not in exposed, kind


def test_an_identity_header_gains_nothing_on_a_service_port(caller: Caller) -> None:
    body = {"name": "Mallory", "department_id": SALES, "roles": ["admin"]}
    response = caller.http.put(f"/people/{EMPLOYEE}", json=body, headers={"X-Actor-Id": ADMIN})
    assert response.status_code == 401
    assert caller.ok(EMPLOYEE, "GET", f"/people/{EMPLOYEE}")["roles"] == ["employee"]


# -- the gateway -----------------------------------------------------------------------------

READ = "query($id: ID!) { request(id: $id) { id requester { id } } }"
SUBMIT_MUTATION = """mutation($input: SubmitRequestInput!) {
  submitRequest(input: $input) { __typename ... on ServiceRequest { id requester { id } } } }"""
SUBMIT_INPUT = {"input": {"catalogItemId": LAPTOP, "title": "Laptop", "form": {"model": "pro"}}}


def graphql(
    platform: Platform, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = httpx.post(
        f"{platform.gateway}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def test_gateway_operations_refuse_every_bad_token(platform: Platform, caller: Caller) -> None:
    rid = caller.request_in("submitted")
    for kind, headers in bad_tokens().items():
        before = caller.digest()
        read = graphql(platform, READ, {"id": rid}, headers)
        assert codes(read) == ["UNAUTHENTICATED"], (kind, read)
        assert read["data"] is None or read["data"]["request"] is None, kind
        submit = graphql(platform, SUBMIT_MUTATION, SUBMIT_INPUT, headers)
        assert codes(submit) == ["UNAUTHENTICATED"], (kind, submit)
        assert caller.digest() == before, f"submitRequest with {kind} wrote"


def test_gateway_operations_follow_the_services_rules(platform: Platform, caller: Caller) -> None:
    rid = caller.request_in("submitted")
    seen = {}
    for name, person in PERSONAS.items():
        read = graphql(platform, READ, {"id": rid}, bearer(person))
        assert "errors" not in read, (name, read)
        seen[name] = read["data"]["request"] is not None
        submitted = graphql(platform, SUBMIT_MUTATION, SUBMIT_INPUT, bearer(person))
        assert "errors" not in submitted, (name, submitted)
        result = submitted["data"]["submitRequest"]
        assert (result["__typename"], result["requester"]["id"]) == ("ServiceRequest", person)
    assert seen == {"employee": True, "agent": True, "manager": True, "admin": True, "other": False}
