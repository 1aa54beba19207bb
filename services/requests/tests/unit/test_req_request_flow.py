"""The ServiceRequest aggregate: submit, conversation, SLA outcomes, close, reopen, children."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from icr.contracts import Envelope, registry
from icr.contracts.base import Event
from icr.contracts.requests import (
    RequestAccepted,
    RequestClosed,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
    SlaBreached,
    SlaWarning,
)
from icr.requests.domain import (
    BusinessCalendar,
    CatalogItem,
    ClockKind,
    Conflict,
    FormInvalid,
    InvalidInput,
    LifecyclePolicy,
    NotFound,
    OlaOverride,
    Priority,
    ServiceRequest,
    Status,
    Targets,
)

MakeRequest = Callable[..., ServiceRequest]
MakeItem = Callable[..., CatalogItem]
SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.standard("Asia/Shanghai", "09:00-17:00")  # 8-hour days
H = timedelta(hours=1)
T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=SH)  # 3 June 2024 is a Monday


def submit(item: CatalogItem, at: datetime | None = None, **kw: Any) -> ServiceRequest:
    values: dict[str, Any] = {
        "request_id": "req-1",
        "title": "Laptop for Ana",
        "item": item,
        "requester_id": "ana",
        "requester_department_id": "dept-sales",
        "form": {"reason": "old one broke", "model": "pro"},
        "calendar": CAL,
        "at": at or sh(3, 9),
    }
    values.update(kw)
    return ServiceRequest.submit(**values)


def types(events: list[Event]) -> list[str]:
    return [e.event_type.removeprefix("requests.") for e in events]


def test_submit_validates_and_records_due_times(make_item: MakeItem) -> None:
    request = submit(make_item(), form={"reason": "  old one broke ", "model": "pro"})
    (event,) = request.pull_events()
    assert isinstance(event, RequestSubmitted)
    assert request.form == {"reason": "old one broke", "model": "pro"}
    assert request.priority is Priority.MEDIUM
    assert event.priority == "medium"
    # Default targets: 4h first response, 40h resolution, on the provider's 8-hour days.
    assert event.first_response_due_at == sh(3, 13)
    assert event.resolution_due_at == sh(7, 17)
    assert (event.catalog_item_version, event.owning_team) == (1, "it-desk")
    assert request.history[0].action == "submit"


def test_submit_reports_title_and_form_errors_together(make_item: MakeItem) -> None:
    with pytest.raises(FormInvalid) as info:
        submit(make_item(), title=" ", form={"model": "max", "extra": 1})
    assert {(e.field, e.code) for e in info.value.errors} == {
        ("title", "required"),
        ("extra", "unknown"),
        ("reason", "required"),
        ("model", "invalid_choice"),
    }


def test_submit_to_a_retired_item_is_refused(make_item: MakeItem) -> None:
    with pytest.raises(InvalidInput, match="retired"):
        submit(make_item(active=False))


def test_submit_uses_the_ola_in_effect_on_the_providers_local_date(make_item: MakeItem) -> None:
    fast = Targets(H, 2 * H)
    item = make_item(ola=(OlaOverride("dept-sales", date(2024, 6, 4), {Priority.HIGH: fast}),))
    # 23:30 UTC on 3 June is already 4 June in Shanghai, so the override applies.
    request = submit(item, at=datetime(2024, 6, 3, 23, 30, tzinfo=UTC), priority=Priority.HIGH)
    assert request.resolution.target == 2 * H
    before = submit(item, at=datetime(2024, 6, 3, 15, 0, tzinfo=UTC), priority=Priority.HIGH)
    assert before.resolution.target == item.targets[Priority.HIGH].resolution
    other = submit(item, at=sh(5, 9), priority=Priority.HIGH, requester_department_id="dept-hr")
    assert other.resolution.target == item.targets[Priority.HIGH].resolution


def test_the_laptop_story_from_the_domain_brief(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.accept(by="bo", at=sh(3, 10))
    request.assign(by="bo", at=sh(3, 10), assignee_id="bo")
    request.start_work(by="bo", at=sh(3, 11))
    request.ask_requester(by="bo", at=sh(3, 12), question="Which keyboard layout?")
    assert request.resolution.is_paused
    request.reply(by="ana", at=sh(4, 12), message="US, please")  # a business day later
    assert not request.resolution.is_paused
    request.resolve(by="bo", at=sh(4, 16), note="Delivered to your desk")
    events = request.pull_events()
    assert types(events) == [
        "request.submitted",
        "request.accepted",
        "request.status_changed",
        "request.assigned",
        "request.status_changed",
        "request.commented",
        "request.waiting",
        "request.status_changed",
        "request.commented",
        "request.resumed",
        "request.status_changed",
        "request.resolved",
        "request.status_changed",
    ]
    accepted = next(e for e in events if isinstance(e, RequestAccepted))
    assert (accepted.first_response_met, accepted.first_response_seconds) == (True, 3600)
    resolved = events[-2]
    assert isinstance(resolved, RequestResolved)
    assert resolved.first_response_met
    assert resolved.resolution_met
    # Counted: Monday 09-12 (3h) and Tuesday 12-16 (4h); the 8h of waiting do not count.
    assert resolved.resolution_seconds == 7 * 3600
    assert resolved.first_response_seconds == 3600
    assert (resolved.assignee_id, resolved.requester_department_id) == ("bo", "dept-sales")
    assert resolved.resolution_due_at == sh(10, 9 + 8)  # 40h + 8h paused: Monday next week
    assert [h.actor_id for h in request.history] == ["ana", "bo", "bo", "bo", "bo", "ana", "bo"]
    # Every recorded event survives the wire and parses back to itself.
    for event in events:
        wire = Envelope.model_validate_json(
            Envelope.wrap(event, source="requests").model_dump_json()
        )
        assert wire.aggregate_id == "req-1"
        assert registry.parse(wire) == event


def test_first_public_comment_from_the_provider_is_the_first_response(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.comment(by="ana", at=sh(3, 9, 30), body="Any news?")
    assert not request.first_response.is_stopped
    request.comment(by="bo", at=sh(3, 10), body="Looking now", by_provider=True)
    assert request.first_response.stopped_at == sh(3, 10)
    request.accept(by="bo", at=sh(3, 14))  # after the 13:00 due time, but already answered
    accepted = [e for e in request.pull_events() if isinstance(e, RequestAccepted)]
    assert accepted[0].first_response_met is True


def test_requester_comment_while_waiting_is_a_reply(make_request: MakeRequest) -> None:
    request = make_request(Status.WAITING_ON_REQUESTER)
    request.comment(by="ana", at=T0 + 2 * H, body="Blue, please")
    assert request.status is Status.IN_PROGRESS
    assert not request.resolution.is_paused
    assert "request.resumed" in types(request.pull_events())


def test_internal_notes_stay_internal(make_request: MakeRequest) -> None:
    request = make_request(Status.IN_PROGRESS)
    note = request.add_internal_note(by="bo", at=T0 + 2 * H, body="Supplier is slow")
    assert request.pull_events() == []
    assert not note.public
    assert request.public_comments() == []
    assert "Supplier" not in str(request.history[-1].details)


def test_assigning_the_same_person_again_changes_nothing(make_request: MakeRequest) -> None:
    request = make_request(Status.IN_PROGRESS)  # start assigned bo
    assert request.assignee_id == "bo"
    request.assign(by="bo", at=T0 + 2 * H, assignee_id="bo")
    assert request.pull_events() == []
    request.assign(by="bo", at=T0 + 2 * H, assignee_id="cy")
    (event,) = request.pull_events()
    assert (event.assignee_id, event.previous_assignee_id) == ("cy", "bo")  # type: ignore[attr-defined]


def test_late_resolution_is_not_met_and_records_the_breach(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.accept(by="bo", at=sh(3, 10))
    request.resolve(by="bo", at=sh(10, 10), note="Finally")  # due was Friday 17:00
    events = request.pull_events()
    breach = next(e for e in events if isinstance(e, SlaBreached))
    assert (breach.clock, breach.due_at) == ("resolution", sh(7, 17))
    resolved = next(e for e in events if isinstance(e, RequestResolved))
    assert resolved.first_response_met
    assert not resolved.resolution_met
    assert resolved.resolution_seconds == 41 * 3600


def test_close_by_requester_and_automatic_close(make_request: MakeRequest) -> None:
    policy = LifecyclePolicy(auto_close_after=timedelta(days=3))
    request = make_request(Status.RESOLVED)
    assert request.resolved_at is not None
    due = request.auto_close_at(policy)
    assert due == request.resolved_at + timedelta(days=3)
    with pytest.raises(Conflict, match="automatic close is due"):
        request.close(by="system", at=due - H, automatic=True, policy=policy)
    request.close(by="system", at=due, automatic=True, policy=policy)
    assert request.status is Status.CLOSED
    assert request.auto_close_at(policy) is None
    closed = [e for e in request.pull_events() if isinstance(e, RequestClosed)]
    assert closed[0].automatic
    assert closed[0].closed_by == "system"


def test_reopen_within_the_window_resumes_the_resolution_clock(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.accept(by="bo", at=sh(3, 10))
    request.resolve(by="bo", at=sh(3, 13), note="Done")  # 4h of 40h used
    request.reopen(by="ana", at=sh(5, 9), reason="Screen flickers")
    assert request.status is Status.IN_PROGRESS
    assert request.reopen_count == 1
    assert request.resolution.elapsed(CAL, sh(5, 9)) == 4 * H
    request.resolve(by="bo", at=sh(5, 11), note="Replaced")
    events = request.pull_events()
    reopened = next(e for e in events if isinstance(e, RequestReopened))
    assert (reopened.reopen_count, reopened.assignee_id) == (1, None)
    second = [e for e in events if isinstance(e, RequestResolved)][-1]
    assert (second.resolution_seconds, second.reopen_count) == (6 * 3600, 1)


def test_reopen_after_the_window_is_refused(make_request: MakeRequest) -> None:
    request = make_request(Status.RESOLVED)
    assert request.resolved_at is not None
    late = request.resolved_at + timedelta(days=2, seconds=1)
    with pytest.raises(Conflict, match="reopen window"):
        request.reopen(
            by="ana", at=late, reason="x", policy=LifecyclePolicy(reopen_window=timedelta(days=2))
        )
    assert request.status is Status.RESOLVED


def test_reject_and_cancel_stop_the_clocks(make_request: MakeRequest) -> None:
    rejected = make_request(Status.REJECTED)
    cancelled = make_request(Status.CANCELLED)
    for request in (rejected, cancelled):
        assert request.first_response.is_stopped
        assert request.resolution.is_stopped
        assert request.next_sla_check_at(0.25) is None
    assert rejected.reason == "Not our service"
    with pytest.raises(InvalidInput, match="reason"):
        make_request(Status.SUBMITTED).reject(by="bo", at=T0 + H, reason="  ")


def test_resolve_needs_a_note(make_request: MakeRequest) -> None:
    with pytest.raises(InvalidInput, match="resolution note"):
        make_request(Status.IN_PROGRESS).resolve(by="bo", at=T0 + H, note="")


def test_open_sub_requests_block_resolution(make_request: MakeRequest) -> None:
    parent = make_request(Status.IN_PROGRESS)
    parent.add_subrequest(by="bo", at=T0 + H, child_id="child-1")
    parent.add_subrequest(by="bo", at=T0 + H, child_id="child-2")
    with pytest.raises(InvalidInput, match="already linked"):
        parent.add_subrequest(by="bo", at=T0 + H, child_id="child-1")
    parent.note_child_status("child-1", Status.RESOLVED, at=T0 + 2 * H)
    with pytest.raises(Conflict, match="child-2"):
        parent.resolve(by="bo", at=T0 + 3 * H, note="Done")
    parent.note_child_status("child-2", Status.CANCELLED, at=T0 + 3 * H)
    parent.resolve(by="bo", at=T0 + 3 * H, note="Done")
    assert parent.status is Status.RESOLVED
    with pytest.raises(NotFound):
        parent.note_child_status("stranger", Status.CLOSED, at=T0 + 4 * H)


def test_item_may_allow_resolving_with_open_children(
    make_request: MakeRequest, make_item: MakeItem
) -> None:
    parent = make_request(Status.IN_PROGRESS, item=make_item(allow_resolve_with_open_children=True))
    parent.add_subrequest(by="bo", at=T0 + H, child_id="child-1")
    parent.resolve(by="bo", at=T0 + 2 * H, note="Done; facilities will follow up")
    assert parent.status is Status.RESOLVED
    assert parent.open_children == ["child-1"]


def test_sla_warning_then_breach_each_recorded_once(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.pull_events()
    # First response: 4h from Monday 09:00, warning with 25% (1h) left at 12:00.
    assert request.next_sla_check_at(0.25) == sh(3, 12)
    assert request.check_sla(now=sh(3, 11), share=0.25) == []
    (warning,) = request.check_sla(now=sh(3, 12), share=0.25)
    assert isinstance(warning, SlaWarning)
    assert (warning.clock, warning.remaining_seconds, warning.due_at) == (
        "first_response",
        3600,
        sh(3, 13),
    )
    assert request.check_sla(now=sh(3, 12, 30), share=0.25) == []
    assert request.next_sla_check_at(0.25) == sh(3, 13) + timedelta(microseconds=1)
    (breach,) = request.check_sla(now=sh(3, 13, 5), share=0.25)
    assert isinstance(breach, SlaBreached)
    assert breach.clock == "first_response"
    assert request.check_sla(now=sh(3, 14), share=0.25) == []
    assert request.is_breached(sh(3, 14))
    # Recorded events are also queued for the outbox.
    assert types(request.pull_events()) == ["sla.warning", "sla.breached"]
    # The resolution clock is next: its warning with 10h of 40h left is Thursday 15:00.
    assert request.next_sla_check_at(0.25) == sh(6, 15)


def test_a_breach_found_late_skips_the_stale_warning(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.accept(by="bo", at=sh(3, 10))
    request.pull_events()
    recorded = request.check_sla(now=sh(10, 9), share=0.25)  # scheduler was down all week
    assert types(recorded) == ["sla.breached"]
    assert request.check_sla(now=sh(10, 10), share=0.25) == []


def test_no_sla_check_while_waiting_with_time_left(make_request: MakeRequest) -> None:
    request = make_request(Status.WAITING_ON_REQUESTER, calendar=CAL)
    assert request.next_sla_check_at(0.25) is None
    assert request.resolution_due_at is None
    snapshot = request.sla(T0 + 5 * H)[ClockKind.RESOLUTION]
    assert snapshot.paused
    assert snapshot.due_at is None


def test_instants_before_the_last_change_are_clamped(make_request: MakeRequest) -> None:
    request = make_request(Status.ACCEPTED)
    last = request.updated_at
    request.start_work(by="bo", at=last - timedelta(seconds=2))  # clock skew between replicas
    assert request.history[-1].at == last


def test_naive_instants_are_refused(make_request: MakeRequest) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        make_request().accept(by="bo", at=datetime(2024, 6, 3, 10))  # noqa: DTZ001


def test_no_warning_while_waiting_even_past_the_warning_instant(make_item: MakeItem) -> None:
    request = submit(make_item())
    request.accept(by="bo", at=sh(3, 10))
    # Resolution: 40h target, warning with 10h left on Thursday 15:00; pause just after it.
    request.ask_requester(by="bo", at=sh(6, 16), question="Still needed?")
    request.pull_events()
    assert request.next_sla_check_at(0.25) is None
    assert request.check_sla(now=sh(6, 16, 30), share=0.25) == []
    request.reply(by="ana", at=sh(10, 9), message="Yes")
    assert request.next_sla_check_at(0.25) == sh(6, 15)  # overdue warning fires at once
    assert types(request.check_sla(now=sh(10, 9), share=0.25)) == ["sla.warning"]
