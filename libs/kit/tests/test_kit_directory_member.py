"""Who a caller is to feedback and incentives: their projection of the directory decides, with
the same rules as the requests service (bootstrap admins, trusted issuer roles, deactivation)."""

from __future__ import annotations

import pytest

from icr.kit.auth import Identity, InvalidToken
from icr.kit.directory import KnownPerson, resolve_member
from icr.kit.settings import ServiceSettings


class View:
    """The one read resolve_member makes, over a dict (the fast tier has no store)."""

    def __init__(self, *people: KnownPerson) -> None:
        self.people = {p.person_id: p for p in people}

    async def person(self, person_id: str) -> KnownPerson | None:
        return self.people.get(person_id)


VIEW = View(
    KnownPerson("bo", "Bo", "it", frozenset({"agent"}), active=True),
    KnownPerson("gone", "Gone", "it", frozenset({"manager"}), active=False),
)
SETTINGS = ServiceSettings(bootstrap_admins="root,gone")


def who(subject: str, *roles: str) -> Identity:
    return Identity(subject, "token", {}, frozenset(roles))


async def test_roles_and_department_come_from_the_projection() -> None:
    bo = await resolve_member(who("bo"), VIEW, SETTINGS)  # type: ignore[arg-type]
    assert (bo.department_id, bo.roles, bo.is_admin) == ("it", {"agent"}, False)
    assert bo.serves_in("it")
    assert not bo.manages("it")


async def test_unknown_and_deactivated_people_are_unauthenticated() -> None:
    with pytest.raises(InvalidToken, match="not in the directory"):
        await resolve_member(who("ghost"), VIEW, SETTINGS)  # type: ignore[arg-type]
    with pytest.raises(InvalidToken, match="deactivated"):
        await resolve_member(who("gone", "admin"), VIEW, SETTINGS)  # type: ignore[arg-type]


async def test_bootstrap_and_trusted_admins_are_admins_before_the_directory_has_them() -> None:
    root = await resolve_member(who("root"), VIEW, SETTINGS)  # type: ignore[arg-type]
    assert root.is_admin
    vouched = await resolve_member(who("newcomer", "admin"), VIEW, SETTINGS)  # type: ignore[arg-type]
    assert vouched.is_admin
    with pytest.raises(InvalidToken):
        await resolve_member(who("newcomer", "manager"), VIEW, SETTINGS)  # type: ignore[arg-type]
    boss = await resolve_member(who("bo", "manager"), VIEW, SETTINGS)  # type: ignore[arg-type]
    assert boss.manages("it")
