"""Who is asking: bootstrap admins, and deactivation revoking every right."""

from __future__ import annotations

import pytest

from icr.requests.domain import Person, Role
from icr.requests.handlers.directory import resolve_actor, upsert_person
from icr.requests.handlers.errors import Unauthenticated

pytestmark = pytest.mark.infra


async def test_a_bootstrap_admin_not_in_the_directory_is_an_admin(start, new_settings) -> None:
    async with start(new_settings(bootstrap_admins="root,ops")) as service:
        actor = await resolve_actor("ops", deps=service.deps)
    assert Role.ADMIN in actor.roles


async def test_deactivating_a_bootstrap_admin_revokes_their_rights(start, new_settings) -> None:
    async with start(new_settings(bootstrap_admins="root,ops")) as service:
        root = await resolve_actor("root", deps=service.deps)
        ops = Person("ops", "Ops", "it", frozenset({Role.AGENT}), active=False)
        await upsert_person(ops, actor=root, deps=service.deps)
        with pytest.raises(Unauthenticated, match="inactive"):
            await resolve_actor("ops", deps=service.deps)


async def test_unknown_person_is_unauthenticated(service) -> None:
    with pytest.raises(Unauthenticated, match="unknown"):
        await resolve_actor("nobody", deps=service.deps)
