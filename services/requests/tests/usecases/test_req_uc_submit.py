"""Submitting on the fakes: the form is checked against the current catalog version and the
directory, and a request is stored with its submitted event, or nothing at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from icr.requests.domain import (
    Actor,
    Conflict,
    Forbidden,
    FormInvalid,
    NotFound,
    Priority,
    Role,
    Status,
)
from icr.requests.handlers.catalog import publish_catalog_item
from icr.requests.handlers.submit import Submission, submit_request


async def test_a_submitted_request_is_stored_with_its_event(world) -> None:
    view = await submit_request(
        Submission("laptop", "Laptop for Ana", {"model": "pro", "approver": "al"}, "high"),
        actor=world.actor("ana"),
        deps=world.deps,
    )
    rid = view.request.id
    stored = await world.stores.requests.get(rid)
    assert stored.version == 1
    request = stored.value
    assert (request.status, request.priority) == (Status.SUBMITTED, Priority.HIGH)
    assert (request.requester_id, request.requester_department_id) == ("ana", "sales")
    assert (request.provider_department_id, request.catalog_item_version) == ("it", 1)
    assert request.first_response.due_at(request.calendar) == world.clock() + timedelta(hours=1)
    [event] = world.outbox.of(rid)
    assert event.event_type == "requests.request.submitted"
    assert event.model_dump()["request_id"] == rid
    assert view.children == []


async def test_a_request_uses_the_catalog_version_current_at_submit(world) -> None:
    current = await world.stores.catalog.current("laptop")
    admin = Actor("root", "", frozenset({Role.ADMIN}))
    await publish_catalog_item(
        current.publish_change(at=world.clock(), owning_team="hw"), actor=admin, deps=world.deps
    )
    rid = await world.submit()
    stored = (await world.stores.requests.get(rid)).value
    assert (stored.catalog_item_version, stored.owning_team) == (2, "hw")


async def test_every_bad_field_is_reported_and_nothing_is_stored(world) -> None:
    bad = Submission("laptop", "", {"model": "mac", "approver": "ghost"}, priority="urgent")
    with pytest.raises(FormInvalid) as refused:
        await submit_request(bad, actor=world.actor("ana"), deps=world.deps)
    fields = {e.field for e in refused.value.errors}
    assert {"priority", "title", "model", "approver"} <= fields
    assert world.stores.requests.docs == {}
    assert world.outbox.events == []


async def test_an_unknown_catalog_item_is_not_found(world) -> None:
    with pytest.raises(NotFound):
        await submit_request(
            Submission("yacht", "A yacht"), actor=world.actor("ana"), deps=world.deps
        )
    assert world.outbox.events == []


async def test_someone_outside_the_directory_cannot_submit(world) -> None:
    with pytest.raises(Forbidden):
        await submit_request(
            Submission("laptop", "Laptop", {"model": "pro"}),
            actor=Actor("root", "", frozenset({Role.ADMIN})),
            deps=world.deps,
        )
    assert world.stores.requests.docs == {}


async def test_an_item_of_a_department_that_is_gone_is_a_conflict(world) -> None:
    # The catalog names a provider the directory does not know (a store edited by hand, say).
    item = await world.stores.catalog.current("laptop")
    world.stores.catalog.items["laptop"] = replace(item, provider_department_id="gone")
    with pytest.raises(Conflict, match="not set up"):
        await world.submit()
    assert world.outbox.events == []
