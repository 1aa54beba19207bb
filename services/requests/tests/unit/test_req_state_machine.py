"""The request state machine: every legal transition, and every illegal one named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from icr.requests.domain import TRANSITIONS, Action, IllegalTransition, ServiceRequest, Status
from icr.requests.domain.errors import Conflict

MakeRequest = Callable[..., ServiceRequest]
S, A = Status, Action
LATER = datetime(2024, 6, 4, 9, 0, tzinfo=UTC)  # a day after the builders' last step

# The table as a reviewer reads it: action -> (from statuses, to status or None = unchanged).
OPEN = {S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_ON_REQUESTER}
WORKING = {S.ACCEPTED, S.IN_PROGRESS, S.WAITING_ON_REQUESTER}
EXPECTED: dict[Action, tuple[set[Status], Status | None]] = {
    A.ACCEPT: ({S.SUBMITTED}, S.ACCEPTED),
    A.ASSIGN: (OPEN, None),
    A.START: ({S.ACCEPTED}, S.IN_PROGRESS),
    A.ASK: ({S.ACCEPTED, S.IN_PROGRESS}, S.WAITING_ON_REQUESTER),
    A.REPLY: ({S.WAITING_ON_REQUESTER}, S.IN_PROGRESS),
    A.RESOLVE: (WORKING, S.RESOLVED),
    A.CLOSE: ({S.RESOLVED}, S.CLOSED),
    A.REOPEN: ({S.RESOLVED}, S.IN_PROGRESS),
    A.REJECT: (OPEN, S.REJECTED),
    A.CANCEL: (OPEN, S.CANCELLED),
    A.COMMENT: (OPEN | {S.RESOLVED}, None),
    A.NOTE: (set(Status), None),
    A.SUBREQUEST: (WORKING, None),
}


def perform(request: ServiceRequest, action: Action, at: datetime = LATER) -> None:
    match action:
        case A.ACCEPT:
            request.accept(by="bo", at=at)
        case A.ASSIGN:
            request.assign(by="bo", at=at, assignee_id="cy")
        case A.START:
            request.start_work(by="bo", at=at)
        case A.ASK:
            request.ask_requester(by="bo", at=at, question="Which colour?")
        case A.REPLY:
            request.reply(by="ana", at=at, message="Blue")
        case A.RESOLVE:
            request.resolve(by="bo", at=at, note="Done")
        case A.CLOSE:
            request.close(by="ana", at=at)
        case A.REOPEN:
            request.reopen(by="ana", at=at, reason="Still broken")
        case A.REJECT:
            request.reject(by="bo", at=at, reason="Not ours")
        case A.CANCEL:
            request.cancel(by="ana", at=at)
        case A.COMMENT:
            request.comment(by="bo", at=at, body="On it", by_provider=True)
        case A.NOTE:
            request.add_internal_note(by="bo", at=at, body="Check stock")
        case A.SUBREQUEST:
            request.add_subrequest(by="bo", at=at, child_id="child-1")


def test_the_transition_table_is_the_reviewed_one() -> None:
    assert {a: (set(f), t) for a, (f, t) in TRANSITIONS.items()} == EXPECTED


LEGAL = [(a, s) for a, (froms, _) in EXPECTED.items() for s in sorted(froms)]
ILLEGAL = [(a, s) for a, (froms, _) in EXPECTED.items() for s in Status if s not in froms]


@pytest.mark.parametrize(("action", "status"), LEGAL)
def test_legal_transition(make_request: MakeRequest, action: Action, status: Status) -> None:
    request = make_request(status)
    perform(request, action)
    target = EXPECTED[action][1]
    assert request.status is (target or status)
    assert request.history[-1].action == str(action)
    assert request.history[-1].at == LATER
    assert action in ServiceRequest.allowed_actions(make_request(status))


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_illegal_transition_names_the_current_status(
    make_request: MakeRequest, action: Action, status: Status
) -> None:
    request = make_request(status)
    history = list(request.history)
    with pytest.raises(IllegalTransition) as info:
        perform(request, action)
    assert info.value.current_status == status
    assert info.value.action == action
    assert f"status is {status}" in str(info.value)
    assert isinstance(info.value, Conflict)
    assert request.status is status
    assert request.history == history  # nothing changed
    assert request.pull_events() == []


def test_status_changes_record_status_changed(make_request: MakeRequest) -> None:
    request = make_request(Status.ACCEPTED)
    request.start_work(by="bo", at=LATER)
    changed = [e for e in request.pull_events() if e.event_type.endswith("status_changed")]
    assert [(e.from_status, e.to_status, e.action) for e in changed] == [  # type: ignore[attr-defined]
        ("accepted", "in_progress", "start")
    ]


def test_actions_that_keep_the_status_record_no_status_change(make_request: MakeRequest) -> None:
    request = make_request(Status.IN_PROGRESS)
    request.assign(by="bo", at=LATER, assignee_id="cy")
    request.comment(by="bo", at=LATER + timedelta(minutes=1), body="Ordered")
    types = [e.event_type for e in request.pull_events()]
    assert types == ["requests.request.assigned", "requests.request.commented"]
