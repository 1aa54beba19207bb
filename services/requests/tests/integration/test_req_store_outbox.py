"""The store on the real Mongo-compatible server: aggregates round-trip whole, state and events
are one write, stale writes are refused, and the events reach Kafka in order."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from icr.contracts import Envelope, registry
from icr.contracts.requests import RequestAccepted, RequestStatusChanged, RequestSubmitted
from icr.contracts.topics import CATALOG, DIRECTORY, REQUESTS
from icr.kit.outbox import ConcurrentUpdate
from icr.kit.testing import read_topic
from icr.requests.domain import Department, IllegalTransition, Status, Targets
from icr.requests.domain.catalog import Priority
from icr.requests.handlers import lifecycle
from icr.requests.handlers.catalog import get_catalog_item, publish_catalog_item
from icr.requests.handlers.directory import upsert_department
from icr.requests.handlers.submit import Submission, submit_request

pytestmark = pytest.mark.infra

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
ADMIN_ID = "root"


async def test_a_request_round_trips_whole(service) -> None:
    bo, ana = service.actor("bo"), service.actor("ana")
    rid = await service.submit("ana", description="for the new hire")
    deps = service.deps
    service.clock.set(T0 + timedelta(minutes=5))
    await lifecycle.accept(rid, actor=bo, deps=deps)
    await lifecycle.ask_requester(rid, "Which layout?", actor=bo, deps=deps)
    service.clock.set(T0 + timedelta(minutes=30))
    await lifecycle.reply(rid, "US", actor=ana, deps=deps)
    await lifecycle.add_note(rid, "order from vendor B", actor=bo, deps=deps)
    child = await submit_request(
        Submission(
            catalog_item_id="laptop", title="Spare", form={"model": "standard"}, parent_id=rid
        ),
        actor=bo,
        deps=deps,
    )
    in_memory = (await lifecycle.comment(rid, "ordered", actor=bo, deps=deps)).request

    stored = (await deps.requests.get(rid)).value
    for name in (
        "status",
        "title",
        "description",
        "form",
        "calendar",
        "first_response",
        "resolution",
        "comments",
        "history",
        "children",
        "assignee_id",
        "submitted_at",
        "updated_at",
    ):
        assert getattr(stored, name) == getattr(in_memory, name), name
    assert stored.resolution.pauses[0].end == T0 + timedelta(minutes=30)
    assert stored.children == {child.request.id: Status.SUBMITTED}
    assert [c.public for c in stored.comments] == [True, True, False, True]


async def test_state_and_events_are_one_write_and_reach_kafka_in_order(service) -> None:
    rid = await service.submit()
    await lifecycle.accept(rid, actor=service.actor("bo"), deps=service.deps)
    records = await read_topic(
        service.settings.kafka_bootstrap_servers, service.topic(REQUESTS.name), count=3
    )
    assert {r.key for r in records} == {rid.encode()}
    assert len({r.partition for r in records}) == 1  # one aggregate, one partition, in order
    events = [registry.parse(Envelope.model_validate(json.loads(r.value))) for r in records]
    assert [type(e) for e in events] == [RequestSubmitted, RequestAccepted, RequestStatusChanged]
    assert events[0].provider_department_id == "it"
    assert dict(records[0].headers)["event_type"] == b"requests.request.submitted"

    async with asyncio.timeout(10):  # the relay empties the outbox once Kafka has them
        while True:
            doc = await service.deps.requests.collection.find_one({"_id": rid})
            if not doc["outbox_pending"] and doc["outbox"] == []:
                break
            await asyncio.sleep(0.05)


async def test_a_stale_write_is_refused(service) -> None:
    rid = await service.submit()
    first = await service.deps.requests.get(rid)
    second = await service.deps.requests.get(rid)
    first.value.accept(by="bo", at=T0)
    await service.deps.requests.save(first)
    second.value.reject(by="cy", at=T0, reason="duplicate")
    with pytest.raises(ConcurrentUpdate):
        await service.deps.requests.save(second)
    assert (await service.deps.requests.get(rid)).value.status is Status.ACCEPTED


async def test_racing_writers_retry_and_lose_nothing(service) -> None:
    rid = await service.submit()
    bo, cy, deps = service.actor("bo"), service.actor("cy"), service.deps
    results = await asyncio.gather(
        lifecycle.accept(rid, actor=bo, deps=deps),
        lifecycle.accept(rid, actor=cy, deps=deps),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["IllegalTransition", "RequestView"]
    assert isinstance(next(r for r in results if isinstance(r, Exception)), IllegalTransition)

    await asyncio.gather(
        *(lifecycle.comment(rid, f"note {i}", actor=bo, deps=deps) for i in range(8))
    )
    stored = (await deps.requests.get(rid)).value
    assert sorted(c.body for c in stored.comments) == sorted(f"note {i}" for i in range(8))
    records = await read_topic(
        service.settings.kafka_bootstrap_servers, service.topic(REQUESTS.name), count=11
    )
    types = [json.loads(r.value)["type"] for r in records]
    assert types.count("requests.request.accepted") == 1
    assert types.count("requests.request.commented") == 8


async def test_catalog_keeps_every_version_it_published(service) -> None:
    from icr.requests.domain.access import Actor
    from icr.requests.domain.directory import Role

    admin = Actor(ADMIN_ID, "", frozenset({Role.ADMIN}))
    current = await get_catalog_item("laptop", version=None, deps=service.deps)
    for hours in (3, 4):
        targets = {p: Targets(timedelta(hours=1), timedelta(hours=hours * 8)) for p in Priority}
        draft = type(current)(**{**current.__dict__, "targets": targets})
        item, published = await publish_catalog_item(draft, actor=admin, deps=service.deps)
        assert published
    assert item.version == 3
    for version, hours in ((1, 16), (2, 24), (3, 32)):
        old = await get_catalog_item("laptop", version=version, deps=service.deps)
        assert old.targets[Priority.MEDIUM].resolution == timedelta(hours=hours)
    _, published = await publish_catalog_item(item, actor=admin, deps=service.deps)
    assert not published  # the same content again is not a new version
    records = await read_topic(
        service.settings.kafka_bootstrap_servers, service.topic(CATALOG.name), count=3
    )
    assert [json.loads(r.value)["data"]["version"] for r in records] == [1, 2, 3]


async def test_directory_events_are_emitted_for_changes_only(service) -> None:
    from icr.requests.domain import BusinessCalendar
    from icr.requests.domain.access import Actor
    from icr.requests.domain.directory import Role

    admin = Actor(ADMIN_ID, "", frozenset({Role.ADMIN}))
    dept = Department("ops", {"en": "Ops"}, BusinessCalendar.always())
    for _ in range(3):
        await upsert_department(dept, actor=admin, deps=service.deps)
    renamed = Department("ops", {"en": "Operations"}, BusinessCalendar.always())
    await upsert_department(renamed, actor=admin, deps=service.deps)
    bootstrap = service.settings.kafka_bootstrap_servers
    # The seed wrote 3 departments and 4 people; "ops" adds two events, not four.
    records = await read_topic(bootstrap, service.topic(DIRECTORY.name), count=9)
    ops = [json.loads(r.value)["data"]["name"] for r in records if r.key == b"ops"]
    assert ops == [{"en": "Ops"}, {"en": "Operations"}]
    with pytest.raises(AssertionError):
        await read_topic(bootstrap, service.topic(DIRECTORY.name), count=10, timeout=1.5)
