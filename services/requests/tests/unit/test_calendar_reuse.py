"""A page of stored requests parses each distinct calendar once: equal calendar documents give
the same (immutable) calendar, different ones do not, and SLA arithmetic is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icr.requests.store.codec import calendar_from_doc

DOC = {
    "timezone": "Asia/Shanghai",
    "week": {"mon": "09:00-18:00", "tue": "09:00-18:00"},
    "holidays": ["2026-10-01"],
    "extra_working_days": [],
    "extra_day_hours": "",
}


def test_equal_calendar_documents_share_one_calendar() -> None:
    same = {**DOC, "week": dict(reversed(list(DOC["week"].items())))}  # key order is no matter
    assert calendar_from_doc(DOC) is calendar_from_doc(same)
    other = {**DOC, "holidays": ["2026-10-02"]}
    assert calendar_from_doc(other) is not calendar_from_doc(DOC)
    assert calendar_from_doc(other) != calendar_from_doc(DOC)


def test_a_shared_calendar_still_counts_working_time() -> None:
    calendar = calendar_from_doc(DOC)
    monday_9 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert calendar.add_business_time(monday_9, timedelta(hours=9)) == monday_9 + timedelta(hours=9)
    # Ten hours from Monday 09:00: Monday's nine, then Tuesday's first hour.
    tuesday_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert calendar_from_doc(DOC).add_business_time(monday_9, timedelta(hours=10)) == tuesday_10
