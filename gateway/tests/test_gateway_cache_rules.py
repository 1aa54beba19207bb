"""The read cache's rules, without infrastructure: what it keeps, for how long, and which
answers it refuses to keep (a read that raced a change, anything from before a silence)."""

from __future__ import annotations

import time

import pytest
from graphql import GraphQLError

from icr.contracts import Envelope
from icr.contracts.incentives import PointsAwarded
from icr.gateway.cache import ACCOUNTS, DEPARTMENTS_LIST, PEOPLE, ReadCache
from icr.gateway.loaders import Trust

ANA = (PEOPLE, "ana")


def live(seconds: float = 30, entries: int = 100) -> ReadCache:
    cache = ReadCache(seconds=seconds, entries=entries, stale_seconds=3)
    cache.heard_from_broker(time.monotonic())
    return cache


def test_nothing_is_kept_or_served_before_the_feed_has_heard_from_the_broker() -> None:
    cache = ReadCache(seconds=30, entries=100, stale_seconds=3)
    assert cache.ticket() is None
    cache.put(ANA, {"id": "ana"}, 0)
    cache.heard_from_broker(time.monotonic())
    assert cache.get(ANA) is None


def test_an_answer_is_served_until_it_expires() -> None:
    cache = live(seconds=0.05)
    cache.put(ANA, {"id": "ana"}, cache.ticket())
    assert cache.get(ANA) == {"id": "ana"}
    time.sleep(0.06)
    assert cache.get(ANA) is None


def test_a_read_that_started_before_a_drop_is_not_kept() -> None:
    cache = live()
    ticket = cache.ticket()  # the read leaves for the service...
    cache.drop(ANA)  # ... the person changes meanwhile ...
    cache.put(ANA, {"name": "old"}, ticket)  # ... and the read comes back with the old row
    assert cache.get(ANA) is None
    cache.put(ANA, {"name": "new"}, cache.ticket())  # a read after the change is kept
    assert cache.get(ANA) == {"name": "new"}


def test_forgotten_drops_refuse_every_read_from_before_them() -> None:
    cache = live(entries=2)
    ticket = cache.ticket()
    for n in range(3):  # the oldest drop is forgotten; the floor rises past it
        cache.drop((PEOPLE, f"p{n}"))
    cache.put((PEOPLE, "p0"), {"id": "p0"}, ticket)
    assert cache.get((PEOPLE, "p0")) is None


def test_after_a_silence_nothing_from_before_it_is_served() -> None:
    cache = live()
    ticket = cache.ticket()
    cache.put(ANA, {"id": "ana"}, ticket)
    # The feed last heard from the broker 10 s ago: changes may be waiting there.
    cache.heard_from_broker(time.monotonic() - 10)
    assert not cache.serving()
    assert cache.get(ANA) is None
    assert cache.ticket() is None
    cache.heard_from_broker(time.monotonic())  # back
    assert cache.get(ANA) is None  # emptied, not resumed
    cache.put(ANA, {"id": "ana"}, ticket)  # a read from before the silence
    assert cache.get(ANA) is None


def test_events_drop_what_they_change() -> None:
    cache = live()
    cache.put((ACCOUNTS, "bo"), {"balance": 0}, cache.ticket())
    cache.put((ACCOUNTS, "ana"), {"balance": 5}, cache.ticket())
    cache.put(DEPARTMENTS_LIST, [{"id": "it"}], cache.ticket())
    awarded = PointsAwarded(
        entry_id="e:r:bo",
        account="bo",
        department_id="it",
        amount=10,
        reason="resolved in time",
        source_event_id="e",
        rule_id="r",
        policy_version=1,
        at="2026-12-01T00:00:00Z",  # type: ignore[arg-type]
    )
    cache.on_event(Envelope.wrap(awarded, source="incentives"))
    assert cache.get((ACCOUNTS, "bo")) is None
    assert cache.get((ACCOUNTS, "ana")) == {"balance": 5}
    assert cache.get(DEPARTMENTS_LIST) == [{"id": "it"}]


def test_a_write_through_the_gateway_drops_what_it_may_change() -> None:
    cache = live()
    cache.put((ACCOUNTS, "bo"), {"balance": 0}, cache.ticket())
    cache.put(ANA, {"id": "ana"}, cache.ticket())
    cache.after_write("requests", "/requests/r1/resolve")  # no directory change
    assert cache.get(ANA) == {"id": "ana"}
    assert cache.get((ACCOUNTS, "bo")) == {"balance": 0}
    ticket = cache.ticket()
    cache.after_write("incentives", "/redemptions")
    assert cache.get((ACCOUNTS, "bo")) is None
    cache.put((ACCOUNTS, "bo"), {"balance": 0}, ticket)  # read before the write: not kept
    assert cache.get((ACCOUNTS, "bo")) is None
    cache.after_write("requests", "/people/ana")
    assert cache.get(ANA) is None


def test_off_keeps_nothing() -> None:
    cache = ReadCache(seconds=0, entries=100, stale_seconds=3)
    cache.heard_from_broker(time.monotonic())
    assert not cache.serving()
    cache.put(ANA, {"id": "ana"}, 0)
    assert cache.get(ANA) is None


def test_an_account_a_ledger_event_names_is_not_kept_until_the_count_can_have_happened() -> None:
    """The incentives service counts an entry into the balance just after its event is out:
    a read right after the event may still show the old balance."""
    cache = ReadCache(seconds=30, entries=100, stale_seconds=0.05)
    cache.heard_from_broker(time.monotonic() + 10)
    key = (ACCOUNTS, "ana")
    cache.settle(key)
    cache.put(key, {"available": 1}, cache.ticket())  # read after the event, before the count
    assert cache.get(key) is None
    time.sleep(0.06)
    cache.put(key, {"available": 8}, cache.ticket())
    assert cache.get(key) == {"available": 8}


def test_a_caller_trusted_once_is_asked_about_again_when_their_row_changes() -> None:
    """A websocket's context (its loaders, their Trust) lives as long as the connection: a
    person deactivated meanwhile must not go on being served from the cache."""
    cache = live()
    cache.put(ANA, {"id": "ana", "active": True}, cache.ticket())
    cache.put(DEPARTMENTS_LIST, {"it": {"id": "it"}}, cache.ticket())
    trust = Trust(cache, lambda: "ana")
    assert trust.get(DEPARTMENTS_LIST) == {"it": {"id": "it"}}

    cache.drop(ANA)  # requests.person.upserted: ana was deactivated
    assert trust.get(DEPARTMENTS_LIST) is None  # not known now: the services decide

    cache.put(ANA, {"id": "ana", "active": False}, cache.ticket())  # someone read her row
    with pytest.raises(GraphQLError) as refused:
        trust.get(DEPARTMENTS_LIST)
    assert refused.value.extensions == {"code": "UNAUTHENTICATED"}


def test_dropping_a_kind_does_not_visit_each_entry() -> None:
    """After every write through the gateway: with a full cache, visiting each entry held the
    event loop (every other request) for a fifth of a second."""
    cache = live(entries=100_000)
    for n in range(50_000):
        cache.put((PEOPLE, f"p{n}"), {"id": f"p{n}"}, cache.ticket())
        cache.put((ACCOUNTS, f"p{n}"), {"balance": n}, cache.ticket())
    started = time.perf_counter()
    cache.after_write("requests", "/people/p1")  # people and accounts
    assert time.perf_counter() - started < 0.02
    assert cache.get((PEOPLE, "p7")) is None
    assert cache.get((ACCOUNTS, "p7")) is None
    cache.put((PEOPLE, "p7"), {"id": "p7", "v": 2}, cache.ticket())  # read after the write
    assert cache.get((PEOPLE, "p7")) == {"id": "p7", "v": 2}
