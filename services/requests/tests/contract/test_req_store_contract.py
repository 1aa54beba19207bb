"""The store contract the use cases rely on, checked on the in-memory fakes (fast tier) and on
the Mongo stores (infra) with the same assertions, so the fakes cannot drift from the real
thing: versioned writes, state and events in one write, copies, and the listing's filters,
order and cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from icr.kit.outbox import ConcurrentUpdate
from icr.requests.domain import (
    Actor,
    BusinessCalendar,
    Department,
    Person,
    Priority,
    Role,
    Status,
)
from icr.requests.domain.access import visibility
from icr.requests.store import RequestFilters, RequestQuery, SortKey, decode_cursor

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
ADMIN = Actor("root", "", frozenset({Role.ADMIN}))
SEE_ALL = visibility(ADMIN)
SUBMITTED = "requests.request.submitted"
ACCEPTED = "requests.request.accepted"
STATUS_CHANGED = "requests.request.status_changed"


# --- requests ----------------------------------------------------------------------------------


async def test_an_added_request_is_version_1_with_its_events(stores, new_request) -> None:
    request = new_request("r1")
    await stores.requests.add(request)
    loaded = await stores.requests.get("r1")
    assert loaded is not None
    assert loaded.version == 1
    assert loaded.value.status is Status.SUBMITTED
    assert loaded.value.title == request.title
    assert loaded.value.history == request.history
    assert await stores.recorded("requests", "r1") == [SUBMITTED]
    assert request.pull_events() == []  # taken by the store, so never saved twice


async def test_adding_an_existing_id_is_refused(stores, new_request) -> None:
    await stores.requests.add(new_request("r1"))
    with pytest.raises(DuplicateKeyError):
        await stores.requests.add(new_request("r1"))
    assert await stores.recorded("requests", "r1") == [SUBMITTED]


async def test_a_save_moves_the_version_and_appends_its_events(stores, new_request) -> None:
    await stores.requests.add(new_request("r1"))
    loaded = await stores.requests.get("r1")
    loaded.value.accept(by="bo", at=T0 + timedelta(minutes=5))
    assert await stores.requests.save(loaded) == 2
    again = await stores.requests.get("r1")
    assert (again.version, again.value.status) == (2, Status.ACCEPTED)
    assert await stores.recorded("requests", "r1") == [SUBMITTED, ACCEPTED, STATUS_CHANGED]


async def test_a_stale_save_is_refused_and_writes_nothing(stores, new_request) -> None:
    await stores.requests.add(new_request("r1"))
    first, second = await stores.requests.get("r1"), await stores.requests.get("r1")
    first.value.accept(by="bo", at=T0 + timedelta(minutes=5))
    await stores.requests.save(first)
    second.value.reject(by="cy", at=T0 + timedelta(minutes=6), reason="not ours")
    with pytest.raises(ConcurrentUpdate):
        await stores.requests.save(second)
    stored = await stores.requests.get("r1")
    assert (stored.version, stored.value.status) == (2, Status.ACCEPTED)
    assert await stores.recorded("requests", "r1") == [SUBMITTED, ACCEPTED, STATUS_CHANGED]


async def test_a_loaded_request_is_a_copy(stores, new_request) -> None:
    await stores.requests.add(new_request("r1"))
    loaded = await stores.requests.get("r1")
    loaded.value.comment(by="ana", at=T0 + timedelta(minutes=1), body="unsaved", by_provider=False)
    loaded.value.children["x"] = Status.SUBMITTED
    stored = (await stores.requests.get("r1")).value
    assert stored.comments == []
    assert stored.children == {}


async def test_children_are_found_by_their_parent_link_oldest_first(stores, new_request) -> None:
    await stores.requests.add(new_request("parent"))
    for n, rid in enumerate(["c2", "c1", "c3"]):
        await stores.requests.add(new_request(rid, parent_id="parent", at=T0 + timedelta(hours=n)))
    await stores.requests.add(new_request("other", parent_id="elsewhere"))
    children = await stores.requests.children_of("parent")
    assert [c.id for c in children] == ["c2", "c1", "c3"]
    assert await stores.requests.children_of("nobody") == []


async def test_summaries_leave_out_the_conversation(stores, new_request) -> None:
    await stores.requests.add(new_request("r1"))
    loaded = await stores.requests.get("r1")
    loaded.value.comment(by="ana", at=T0 + timedelta(minutes=1), body="hello", by_provider=False)
    await stores.requests.save(loaded)
    [summary] = await stores.requests.by_ids(["r1", "missing", "r1"])
    assert summary.comments == []
    assert summary.history == []
    assert len((await stores.requests.get("r1")).value.comments) == 1


# --- listing -----------------------------------------------------------------------------------


async def _seed_listing(stores, new_request) -> None:
    """Six requests over two providers and two requesters, an hour apart, mixed priorities."""
    rows = [
        ("a", "it", ("ana", "sales"), Priority.LOW),
        ("b", "it", ("sam", "sales"), Priority.HIGH),
        ("c", "legal", ("ana", "sales"), Priority.CRITICAL),
        ("d", "it", ("bo", "it"), Priority.MEDIUM),
        ("e", "legal", ("sam", "sales"), Priority.HIGH),
        ("f", "it", ("ana", "sales"), Priority.MEDIUM),
    ]
    for n, (rid, provider, requester, priority) in enumerate(rows):
        request = new_request(
            rid, at=T0 + timedelta(hours=n), requester=requester, priority=priority
        )
        request.provider_department_id = provider
        await stores.requests.add(request)
    taken = await stores.requests.get("b")
    taken.value.accept(by="bo", at=T0 + timedelta(hours=1, minutes=5))
    taken.value.assign(by="bo", at=T0 + timedelta(hours=1, minutes=5), assignee_id="bo")
    await stores.requests.save(taken)
    late = await stores.requests.get("e")  # nobody answered within the hour
    late.value.check_sla(now=T0 + timedelta(hours=6), share=0.25)
    await stores.requests.save(late)


async def _all_pages(stores, query: RequestQuery) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = await stores.requests.list(
            RequestQuery(
                visibility=query.visibility,
                filters=query.filters,
                sort=query.sort,
                descending=query.descending,
                limit=query.limit,
                after=after,
            )
        )
        pages.append([r.id for r in page.items])
        if page.next_cursor is None:
            return pages
        after = decode_cursor(page.next_cursor, sort=query.sort, descending=query.descending)


async def test_listing_pages_newest_first_without_gaps_or_repeats(stores, new_request) -> None:
    await _seed_listing(stores, new_request)
    query = RequestQuery(visibility=SEE_ALL, limit=4)
    assert await _all_pages(stores, query) == [["f", "e", "d", "c"], ["b", "a"]]
    oldest_first = RequestQuery(visibility=SEE_ALL, descending=False, limit=3)
    assert await _all_pages(stores, oldest_first) == [["a", "b", "c"], ["d", "e", "f"]]


async def test_listing_by_priority_breaks_ties_by_id(stores, new_request) -> None:
    await _seed_listing(stores, new_request)
    query = RequestQuery(visibility=SEE_ALL, sort=SortKey.PRIORITY, limit=2)
    assert await _all_pages(stores, query) == [["c", "e"], ["b", "f"], ["d", "a"]]


async def test_listing_soonest_due_first(stores, new_request) -> None:
    await _seed_listing(stores, new_request)
    query = RequestQuery(visibility=SEE_ALL, sort=SortKey.DUE, descending=False, limit=4)
    # b answered in time, so its next due time is its resolution's, 9 h after T0.
    assert await _all_pages(stores, query) == [["a", "c", "d", "e"], ["f", "b"]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (RequestFilters(provider_department_ids=("legal",)), {"c", "e"}),
        (RequestFilters(consumer_department_ids=("it",)), {"d"}),
        (RequestFilters(statuses=(Status.ACCEPTED,)), {"b"}),
        (RequestFilters(statuses=(Status.SUBMITTED, Status.ACCEPTED)), set("abcdef")),
        (RequestFilters(priorities=(Priority.HIGH, Priority.LOW)), {"a", "b", "e"}),
        (RequestFilters(requester_ids=("sam",)), {"b", "e"}),
        (RequestFilters(assignee_ids=("bo",)), {"b"}),
        (RequestFilters(breached=True), {"e"}),
        (RequestFilters(breached=False), set("abcdf")),
        (
            RequestFilters(
                created_from=T0 + timedelta(hours=1), created_to=T0 + timedelta(hours=3)
            ),
            {"b", "c"},
        ),
        (RequestFilters(requester_ids=("ana",), provider_department_ids=("it",)), {"a", "f"}),
    ],
)
async def test_listing_filters(stores, new_request, filters, expected) -> None:
    await _seed_listing(stores, new_request)
    page = await stores.requests.list(RequestQuery(visibility=SEE_ALL, filters=filters, limit=50))
    assert {r.id for r in page.items} == expected


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (Actor("ana", "sales", frozenset({Role.EMPLOYEE})), {"a", "c", "f"}),
        (Actor("bo", "it", frozenset({Role.AGENT})), {"a", "b", "d", "f"}),
        (Actor("lee", "legal", frozenset({Role.AGENT})), {"c", "e"}),
        (Actor("al", "sales", frozenset({Role.MANAGER})), {"a", "b", "c", "e", "f"}),
        (Actor("eve", "hr", frozenset({Role.AGENT})), set()),
    ],
    ids=["requester", "provider-agent", "other-provider", "consumer-manager", "outsider"],
)
async def test_listing_shows_only_what_the_actor_may_see(
    stores, new_request, actor, expected
) -> None:
    await _seed_listing(stores, new_request)
    page = await stores.requests.list(RequestQuery(visibility=visibility(actor), limit=50))
    assert {r.id for r in page.items} == expected


async def test_listing_of_a_parents_subrequests(stores, new_request) -> None:
    await stores.requests.add(new_request("p"))
    await stores.requests.add(new_request("k1", parent_id="p", requester=("bo", "it")))
    await stores.requests.add(new_request("k2", parent_id="p", requester=("bo", "it")))
    await stores.requests.add(new_request("k3", parent_id="q", requester=("bo", "it")))
    query = RequestQuery(visibility=SEE_ALL, filters=RequestFilters(parent_id="p"))
    assert {r.id for r in (await stores.requests.list(query)).items} == {"k1", "k2"}


# --- catalog -----------------------------------------------------------------------------------


async def test_publishing_a_new_item_twice_at_once_lets_one_win(stores, laptop) -> None:
    await stores.catalog.publish(laptop(), replacing=None)
    with pytest.raises(ConcurrentUpdate):
        await stores.catalog.publish(laptop(owning_team="other"), replacing=None)
    current = await stores.catalog.current("laptop")
    assert (current.version, current.owning_team) == (1, "it-desk")
    assert await stores.recorded("catalog_items", "laptop") == ["requests.catalog_item.published"]


async def test_a_new_version_keeps_the_old_one_readable(stores, laptop) -> None:
    v1 = laptop()
    await stores.catalog.publish(v1, replacing=None)
    v2 = v1.publish_change(at=T0 + timedelta(days=1), owning_team="it-hw")
    await stores.catalog.publish(v2, replacing=v1)
    assert (await stores.catalog.current("laptop")).owning_team == "it-hw"
    assert (await stores.catalog.version("laptop", 1)).owning_team == "it-desk"
    assert (await stores.catalog.version("laptop", 2)).owning_team == "it-hw"
    assert await stores.catalog.version("laptop", 3) is None
    assert await stores.catalog.version("nothing", 1) is None
    assert len(await stores.recorded("catalog_items", "laptop")) == 2


async def test_publishing_over_a_stale_version_is_refused(stores, laptop) -> None:
    v1 = laptop()
    await stores.catalog.publish(v1, replacing=None)
    await stores.catalog.publish(v1.publish_change(at=T0, owning_team="a"), replacing=v1)
    with pytest.raises(ConcurrentUpdate):
        await stores.catalog.publish(v1.publish_change(at=T0, owning_team="b"), replacing=v1)
    assert (await stores.catalog.current("laptop")).owning_team == "a"
    assert len(await stores.recorded("catalog_items", "laptop")) == 2


async def test_catalog_lists_current_items_by_id_per_provider(stores, laptop) -> None:
    await stores.catalog.publish(laptop(id="zeta"), replacing=None)
    await stores.catalog.publish(laptop(id="alpha"), replacing=None)
    await stores.catalog.publish(laptop(id="nda", provider_department_id="legal"), replacing=None)
    assert [i.id for i in await stores.catalog.list()] == ["alpha", "nda", "zeta"]
    it_items = await stores.catalog.list(provider_department_id="it")
    assert [i.id for i in it_items] == ["alpha", "zeta"]


# --- directory ---------------------------------------------------------------------------------

CAL = BusinessCalendar.standard("Asia/Shanghai")


async def test_an_equal_upsert_changes_nothing_and_records_nothing(stores) -> None:
    it = Department("it", {"en": "IT"}, CAL)
    assert (await stores.directory.save_department(it, known=None, at=T0)).created
    known = await stores.directory.department("it")
    saved = await stores.directory.save_department(it, known=known, at=T0)
    assert (saved.created, saved.changed) == (False, False)
    renamed = Department("it", {"en": "Information technology"}, CAL)
    saved = await stores.directory.save_department(renamed, known=known, at=T0)
    assert (saved.created, saved.changed) == (False, True)
    assert (await stores.directory.department("it")).version == 2
    assert await stores.recorded("departments", "it") == ["requests.department.upserted"] * 2


async def test_directory_writes_are_versioned(stores) -> None:
    it = Department("it", {"en": "IT"}, CAL)
    await stores.directory.save_department(it, known=None, at=T0)
    with pytest.raises(ConcurrentUpdate):  # created meanwhile by someone else
        await stores.directory.save_department(it, known=None, at=T0)
    known = await stores.directory.department("it")
    await stores.directory.save_department(Department("it", {"en": "A"}, CAL), known=known, at=T0)
    with pytest.raises(ConcurrentUpdate):
        await stores.directory.save_department(
            Department("it", {"en": "B"}, CAL), known=known, at=T0
        )
    assert (await stores.directory.department("it")).value.name == {"en": "A"}
    ana = Person("ana", "Ana", "it", frozenset({Role.AGENT}))
    await stores.directory.save_person(ana, known=None, at=T0)
    with pytest.raises(ConcurrentUpdate):
        await stores.directory.save_person(ana, known=None, at=T0)
    assert await stores.recorded("people", "ana") == ["requests.person.upserted"]


async def test_directory_lookups(stores) -> None:
    for dept in ("sales", "it"):
        await stores.directory.save_department(
            Department(dept, {"en": dept}, CAL), known=None, at=T0
        )
    await stores.directory.save_person(Person("ana", "Ana", "sales"), known=None, at=T0)
    assert [d.id for d in await stores.directory.all_departments()] == ["it", "sales"]
    assert await stores.directory.department_ids(["it", "hr", "it"]) == {"it"}
    assert await stores.directory.department_ids([]) == set()
    assert await stores.directory.person_ids(["ana", "bo"]) == {"ana"}
    people = await stores.directory.people_by_ids(["ana", "bo"])
    assert list(people) == ["ana"]
    assert people["ana"].version == 1
    assert set(await stores.directory.departments_by_ids(["it", "hr"])) == {"it"}
    assert await stores.directory.person("bo") is None


# --- import journal ----------------------------------------------------------------------------


async def test_the_journal_keeps_the_file_until_finished(stores) -> None:
    at = T0 + timedelta(minutes=1)
    await stores.imports.begin(
        "imp1", body=b"[]", content_type="application/json", actor_id="root", at=T0, resume_at=at
    )
    journaled = await stores.imports.get("imp1")
    assert (journaled.body, journaled.status, journaled.actor_id) == (b"[]", "applying", "root")
    await stores.imports.finish("imp1", status="applied", at=at, summary={"departments": {}})
    finished = await stores.imports.get("imp1")
    assert (finished.body, finished.status) == (b"", "applied")
    assert await stores.imports.get("nothing") is None
