"""The live hub's fan-out: a subscriber that falls behind is dropped, the others get every
event at their own pace; facts learned from events spare needless reads."""

from __future__ import annotations

import pytest

from icr.contracts import Envelope
from icr.gateway.hub import Hub, SlowSubscriber, Subscriber
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test


def event(n: int, **data: str) -> Envelope:
    return Envelope(
        type="requests.request.commented",
        version=1,
        source="requests",
        aggregate_id=f"r{n}",
        data={"request_id": f"r{n}", **data},
    )


def hub(size: int) -> Hub:
    return Hub(GatewaySettings(**auth_settings_for_test()), queue_size=size)


async def test_a_slow_subscriber_is_dropped_and_the_others_get_everything() -> None:
    feed = hub(size=3)
    fast, slow = Subscriber(lambda e: True, 3), Subscriber(lambda e: True, 3)
    feed.subscribers |= {fast, slow}
    received = []
    for n in range(10):
        feed.dispatch(event(n))
        received.append((await fast.next()).aggregate_id)  # the fast one keeps up
    assert received == [f"r{n}" for n in range(10)]
    assert slow.dropped
    with pytest.raises(SlowSubscriber):
        await slow.next()


async def test_a_subscriber_only_gets_what_it_wants() -> None:
    feed = hub(size=10)
    only_r2 = Subscriber(lambda e: e.aggregate_id == "r2", 10)
    feed.subscribers.add(only_r2)
    for n in range(5):
        feed.dispatch(event(n))
    assert (await only_r2.next()).aggregate_id == "r2"
    assert only_r2.queue.empty()


def test_facts_are_learned_from_events_and_bounded() -> None:
    feed = Hub(GatewaySettings(**auth_settings_for_test()), queue_size=1, facts=2)
    feed.dispatch(event(1, requester_id="ana", provider_department_id="it"))
    feed.dispatch(event(2, requester_id="sam"))
    feed.dispatch(event(2, provider_department_id="hr"))
    feed.dispatch(event(3, requester_id="bo"))
    assert feed.facts_of("r1") is None  # the oldest went
    facts = feed.facts_of("r2")
    assert facts is not None
    assert (facts.requester_id, facts.provider_department_id) == ("sam", "hr")
