"""A low rating opens one recovery request to the provider's manager (fakes, fast tier)."""

from __future__ import annotations

from datetime import timedelta

from icr.contracts.feedback import RecoveryNeeded
from icr.contracts.requests import RequestAssigned, RequestSubmitted
from icr.requests.domain import BusinessCalendar, Department
from icr.requests.handlers.directory import upsert_department
from icr.requests.handlers.recovery import open_recovery_request

from .conftest import ADMIN, T0


def needed(**changes: object) -> RecoveryNeeded:
    values: dict[str, object] = {
        "request_id": "r-1",
        "rater_id": "ana",
        "rater_department_id": "sales",
        "provider_department_id": "it",
        "assignee_id": "bo",
        "stars": 1,
        "comment": "too slow",
        "raised_at": T0,
        "recovery_request_id": "rec-1",
        **changes,
    }
    return RecoveryNeeded(**values)  # type: ignore[arg-type]


async def test_low_rating_opens_a_recovery_request_to_the_manager_with_its_own_sla(
    world,
) -> None:
    it = Department("it", {"en": "IT"}, BusinessCalendar.always(), manager_id="ivy")
    await upsert_department(it, actor=ADMIN, deps=world.deps)
    world.outbox.take()

    opened = await open_recovery_request(needed(), deps=world.deps)

    assert opened is not None
    assert (opened.id, opened.provider_department_id, opened.assignee_id) == ("rec-1", "it", "ivy")
    assert opened.requester_id == "ana"
    events = world.outbox.of("rec-1")
    submitted = next(e for e in events if isinstance(e, RequestSubmitted))
    assert submitted.recovery_for_request_id == "r-1"
    assert submitted.resolution_due_at == T0 + timedelta(hours=16)  # always-open calendar
    assert any(isinstance(e, RequestAssigned) and e.assignee_id == "ivy" for e in events)


async def test_a_redelivered_recovery_needed_opens_nothing_more(world) -> None:
    assert await open_recovery_request(needed(), deps=world.deps) is not None
    world.outbox.take()
    assert await open_recovery_request(needed(), deps=world.deps) is None
    assert world.outbox.events == []


async def test_without_a_manager_the_request_waits_in_the_department_queue(world) -> None:
    opened = await open_recovery_request(needed(recovery_request_id=None), deps=world.deps)
    assert opened is not None
    assert opened.assignee_id is None
    assert opened.id  # derived from the rated request, the same on every delivery
    again = await open_recovery_request(needed(recovery_request_id=None), deps=world.deps)
    assert again is None
