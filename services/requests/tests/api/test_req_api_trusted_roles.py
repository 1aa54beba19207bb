"""AUTH_ROLES_CLAIM: with it, the issuer's roles add to the directory's; without it (the default,
the `api` fixture's app), roles in a token are ignored (test_req_api_authz.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.kit.testing import bearer, service_settings_for_test, wait_ready
from icr.requests.main import build_app
from icr.requests.settings import RequestsSettings

pytestmark = pytest.mark.infra

CALENDAR = {"timezone": "UTC", "week": {"mon": "09:00-17:00"}}


@pytest.fixture(scope="module")
async def trusting() -> AsyncIterator[httpx.AsyncClient]:
    settings = service_settings_for_test(
        RequestsSettings, bootstrap_admins="root", auth_roles_claim="realm_access.roles"
    )
    async with LifespanManager(build_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://requests") as http:
            await wait_ready(http)
            department = {"name": {"en": "Sales"}, "calendar": CALENDAR}
            response = await http.put("/departments/sales", json=department, headers=bearer("root"))
            assert response.status_code == 201, response.text
            person = {"name": "Ana", "department_id": "sales", "roles": ["employee"]}
            response = await http.put("/people/ana", json=person, headers=bearer("root"))
            assert response.status_code == 201, response.text
            yield http


async def test_a_role_the_trusted_claim_gives_is_honoured(trusting: httpx.AsyncClient) -> None:
    body = {"name": {"en": "Ops"}, "calendar": CALENDAR}
    plain = await trusting.put("/departments/ops", json=body, headers=bearer("ana"))
    assert plain.status_code == 403
    # A role elsewhere in the token is not the configured claim: still refused.
    other_claim = bearer("ana", roles=["admin"])
    assert (
        await trusting.put("/departments/ops", json=body, headers=other_claim)
    ).status_code == 403
    admin = bearer("ana", realm_access={"roles": ["admin"]})
    assert (await trusting.put("/departments/ops", json=body, headers=admin)).status_code == 201


async def test_trusted_roles_do_not_let_in_a_deactivated_person(
    trusting: httpx.AsyncClient,
) -> None:
    person = {"name": "Zed", "department_id": "sales", "roles": ["employee"], "active": False}
    response = await trusting.put("/people/zed", json=person, headers=bearer("root"))
    assert response.status_code == 201, response.text
    admin = bearer("zed", realm_access={"roles": ["admin"]})
    assert (await trusting.get("/departments", headers=admin)).status_code == 401
