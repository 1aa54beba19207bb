"""Recognition: allowance by role, monthly reset, bad input, caps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from icr.contracts.incentives import AllowanceReset, RecognitionGiven
from icr.incentives.domain.errors import AllowanceExceeded, CapReached, InvalidInput
from icr.incentives.domain.policy import DEFAULT_POLICY
from icr.incentives.domain.recognition import Gift, GivingAllowance

TERMS = DEFAULT_POLICY.recognition
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MESSAGE = "Thanks for fixing my laptop so fast!"


def gift(points: int = 10, *, to: str = "bo", message: str = MESSAGE, value: str = "ownership"):  # type: ignore[no-untyped-def]
    return Gift("g1", "ana", "sales", to, "it", points, message, value, T0)


def test_allowance_is_the_largest_of_the_roles() -> None:
    assert TERMS.allowance_for(frozenset({"employee"})) == 100
    assert TERMS.allowance_for(frozenset({"employee", "manager"})) == 200
    assert TERMS.allowance_for(frozenset({"unknown"})) == 0


def test_a_month_starts_with_a_full_allowance_and_says_so() -> None:
    a = GivingAllowance.start("ana", allowance=100, at=T0)
    assert (a.id, a.left) == ("ana:2026-03", 100)
    assert isinstance(a.events[0], AllowanceReset)


def test_giving_takes_from_the_allowance_and_records_the_event() -> None:
    a = GivingAllowance.start("ana", allowance=100, at=T0)
    a.give(gift(30), TERMS)
    assert a.left == 70
    given = a.events[-1]
    assert isinstance(given, RecognitionGiven)
    assert given.points == 30


def test_more_than_is_left_is_refused() -> None:
    a = GivingAllowance("ana", "2026-03", 100, given=95)
    with pytest.raises(AllowanceExceeded):
        a.give(gift(10), TERMS)
    assert a.given == 95
    assert a.events == []


def test_per_recipient_cap_per_month() -> None:
    a = GivingAllowance("ana", "2026-03", 200)
    a.give(gift(50), TERMS)
    with pytest.raises(CapReached):
        a.give(gift(1), TERMS)
    a.give(gift(10, to="cy"), TERMS)


@pytest.mark.parametrize(
    ("g", "field", "code"),
    [
        (gift(to="ana"), "recipient_id", "self"),
        (gift(message="thanks"), "message", "too_short"),
        (gift(value="speed"), "value", "unknown_value"),
        (gift(0), "points", "too_small"),
    ],
)
def test_bad_gifts_are_refused_with_a_typed_field_error(g: Gift, field: str, code: str) -> None:
    a = GivingAllowance("ana", "2026-03", 100)
    with pytest.raises(InvalidInput) as refused:
        a.give(g, TERMS)
    assert [(e.field, e.code) for e in refused.value.errors] == [(field, code)]
    assert a.given == 0
    assert a.events == []
