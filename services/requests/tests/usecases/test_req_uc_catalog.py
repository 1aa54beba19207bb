"""Publishing the catalog on the fakes: who may, what is checked, and that a publish is one
new version with one event, or nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from icr.contracts.requests import CatalogItemPublished
from icr.requests.domain import Actor, Forbidden, FormInvalid, NotFound, Role
from icr.requests.domain.catalog import OlaOverride
from icr.requests.handlers.catalog import get_catalog_item, publish_catalog_item

IVY = Actor("ivy", "it", frozenset({Role.MANAGER}))  # IT's manager


async def test_a_change_is_published_as_the_next_version(world, laptop_item) -> None:
    item, published = await publish_catalog_item(
        laptop_item(owning_team="it-hw"), actor=IVY, deps=world.deps
    )
    assert published
    assert (item.version, item.owning_team, item.published_at) == (2, "it-hw", world.clock())
    [event] = world.outbox.events
    assert isinstance(event, CatalogItemPublished)
    assert (event.catalog_item_id, event.version) == ("laptop", 2)
    old = await get_catalog_item("laptop", version=1, deps=world.deps)
    assert old.owning_team == "it-desk"


async def test_publishing_what_is_current_changes_nothing(world, laptop_item) -> None:
    item, published = await publish_catalog_item(laptop_item(), actor=IVY, deps=world.deps)
    assert not published
    assert item.version == 1
    assert world.outbox.events == []


@pytest.mark.parametrize(
    "actor",
    [
        Actor("bo", "it", frozenset({Role.AGENT})),
        Actor("al", "sales", frozenset({Role.MANAGER})),
    ],
    ids=["agent", "other-manager"],
)
async def test_only_the_providers_managers_publish(world, laptop_item, actor) -> None:
    with pytest.raises(Forbidden):
        await publish_catalog_item(laptop_item(owning_team="x"), actor=actor, deps=world.deps)
    assert world.outbox.events == []


async def test_unknown_departments_are_field_errors(world, laptop_item) -> None:
    terms = OlaOverride("nowhere", date(2024, 7, 1), {})
    draft = laptop_item(ola=(terms,))
    with pytest.raises(FormInvalid) as refused:
        await publish_catalog_item(draft, actor=IVY, deps=world.deps)
    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("ola[0].consumer_department_id", "unknown")
    ]
    assert world.outbox.events == []


async def test_an_item_cannot_move_to_another_department(world, laptop_item) -> None:
    root = Actor("root", "", frozenset({Role.ADMIN}))
    with pytest.raises(FormInvalid) as refused:
        await publish_catalog_item(
            laptop_item(provider_department_id="legal"), actor=root, deps=world.deps
        )
    assert [e.code for e in refused.value.errors] == ["immutable"]


async def test_a_publish_that_loses_a_race_publishes_on_top_of_the_winner(
    world, laptop_item
) -> None:
    async def another_manager_publishes() -> None:
        await publish_catalog_item(laptop_item(name={"en": "Laptop"}), actor=IVY, deps=world.deps)

    world.stores.catalog.interleave(another_manager_publishes)
    item, _ = await publish_catalog_item(laptop_item(owning_team="hw"), actor=IVY, deps=world.deps)
    # Ours was decided again on version 2: its change is applied, the winner's is replaced
    # (a publish states the whole item), and both versions are kept and announced.
    assert (item.version, item.owning_team) == (3, "hw")
    assert [e.version for e in world.outbox.events] == [2, 3]
    assert (await get_catalog_item("laptop", version=2, deps=world.deps)).name == {"en": "Laptop"}


async def test_a_missing_version_is_not_found(world) -> None:
    with pytest.raises(NotFound):
        await get_catalog_item("laptop", version=9, deps=world.deps)


@pytest.fixture
def laptop_item(world):
    """A draft of the seeded laptop with `changes` (what a PUT of the item would carry)."""

    def make(**changes):
        return replace(world.stores.catalog.items["laptop"], **changes)

    return make
