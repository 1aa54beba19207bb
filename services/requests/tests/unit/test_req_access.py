"""Authorization: who sees a request (else 404) and who may act on it (else 403)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from icr.requests.domain import (
    Action,
    Actor,
    Forbidden,
    NotFound,
    Person,
    Role,
    ServiceRequest,
    authorize,
    can_change,
    can_manage_catalog,
    can_manage_directory,
    can_see,
    can_see_internal_notes,
    visibility,
)

E, AG, M, AD = Role.EMPLOYEE, Role.AGENT, Role.MANAGER, Role.ADMIN
ACTORS = {
    "ana": Actor("ana", "sales", frozenset({E})),  # the requester
    "sam": Actor("sam", "sales", frozenset({E, M})),  # the requester's manager
    "sue": Actor("sue", "sales", frozenset({E})),  # a colleague of the requester
    "bo": Actor("bo", "it", frozenset({E, AG})),  # agent of the provider
    "ivy": Actor("ivy", "it", frozenset({E, M})),  # manager of the provider
    "ed": Actor("ed", "it", frozenset({E})),  # provider employee who is no agent
    "hal": Actor("hal", "hr", frozenset({E, AG, M})),  # agent and manager elsewhere
    "zed": Actor("zed", "hr", frozenset({E, AD})),  # administrator
}


@dataclass
class Summary:
    """A stored request summary; access rules need only these fields."""

    requester_id: str = "ana"
    requester_department_id: str = "sales"
    provider_department_id: str = "it"
    assignee_id: str | None = None
    parent_id: str | None = None


REQUEST = Summary()
SEES = {"ana", "sam", "bo", "ivy", "zed"}
REQUESTER_ONLY = {Action.REPLY, Action.CLOSE, Action.REOPEN, Action.CANCEL}
PROVIDER_ONLY = {
    Action.ACCEPT,
    Action.ASSIGN,
    Action.START,
    Action.ASK,
    Action.RESOLVE,
    Action.REJECT,
    Action.NOTE,
    Action.SUBREQUEST,
}


def expected_to_change(name: str, action: Action) -> bool:
    if name not in SEES:
        return False
    if name == "zed":
        return action is not Action.REPLY
    if action in REQUESTER_ONLY:
        return name == "ana"
    if action in PROVIDER_ONLY:
        return name in {"bo", "ivy"}
    return True  # comment


@pytest.mark.parametrize("name", ACTORS)
def test_who_sees_the_request(name: str) -> None:
    assert can_see(ACTORS[name], REQUEST) is (name in SEES)
    assert visibility(ACTORS[name]).matches(REQUEST) is (name in SEES)


@pytest.mark.parametrize("name", ACTORS)
@pytest.mark.parametrize("action", list(Action))
def test_authorization_matrix(name: str, action: Action) -> None:
    actor = ACTORS[name]
    allowed = expected_to_change(name, action)
    assert can_change(actor, REQUEST, action) is allowed
    if name not in SEES:
        with pytest.raises(NotFound):
            authorize(actor, REQUEST, action)
    elif not allowed:
        with pytest.raises(Forbidden, match=str(action)):
            authorize(actor, REQUEST, action)
    else:
        authorize(actor, REQUEST, action)


def test_assignee_from_another_department_stays_provider_side() -> None:
    moved = Actor("cy", "finance", frozenset({E, AG}))
    request = Summary(assignee_id="cy")
    assert can_see(moved, request)
    assert can_change(moved, request, Action.RESOLVE)
    assert not can_change(moved, Summary(), Action.RESOLVE)


def test_agents_follow_sub_requests_their_department_raised() -> None:
    child = Summary(
        requester_id="bo",
        requester_department_id="it",
        provider_department_id="facilities",
        parent_id="req-1",
    )
    colleague = Actor("cy", "it", frozenset({E, AG}))
    assert can_see(colleague, child)
    assert can_change(colleague, child, Action.COMMENT)
    assert not can_change(colleague, child, Action.CANCEL)  # only the requester (bo) cancels
    assert can_change(ACTORS["bo"], child, Action.CANCEL)
    assert not can_see(ACTORS["ed"], child)  # not an agent
    not_child = Summary(requester_department_id="it", provider_department_id="facilities")
    assert not can_see(colleague, not_child)  # a top-level request, not a sub-request


def test_internal_notes_are_for_the_provider_side() -> None:
    assert {n for n, a in ACTORS.items() if can_see_internal_notes(a, REQUEST)} == {
        "bo",
        "ivy",
        "zed",
    }


def test_catalog_and_directory_management() -> None:
    assert {n for n, a in ACTORS.items() if can_manage_catalog(a, "it")} == {"ivy", "zed"}
    assert {n for n, a in ACTORS.items() if can_manage_directory(a)} == {"zed"}


def test_rules_apply_to_the_aggregate_and_to_people(
    make_request: Callable[..., ServiceRequest],
) -> None:
    request = make_request()  # requester ana of dept-sales, provider dept-it
    agent = Actor.of(Person("bo", "Bo", "dept-it", frozenset({E, AG})))
    assert can_change(agent, request, Action.ACCEPT)
    assert not can_see(Actor.of(Person("x", "X", "dept-hr")), request)
