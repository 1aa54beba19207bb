"""Who may see and who may change a request, as pure functions.

The API turns "cannot see" into 404 (so ids of others' requests leak nothing) and "can see,
cannot change" into 403. Listing uses `visibility(actor)`, the same rule as `can_see`, so a
list never shows a request a direct read would hide.

Decisions:
- Managers see both sides of their department: the requests it provides (its queue) and the
  requests its people submit to others (they answer for both relations in the OLA).
- Agents see their department's queue, plus sub-requests their department raised to others,
  so a colleague can follow up on cross-department work.
- The assignee is treated as provider side even after moving to another department.
- Admins may do everything except speak for the requester (reply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from icr.requests.domain.directory import Person, Role
from icr.requests.domain.errors import Forbidden, NotFound
from icr.requests.domain.lifecycle import Action

REQUESTER_ACTIONS = frozenset({Action.REPLY, Action.CLOSE, Action.REOPEN, Action.CANCEL})
PROVIDER_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.ASSIGN,
        Action.START,
        Action.ASK,
        Action.RESOLVE,
        Action.REJECT,
        Action.NOTE,
        Action.SUBREQUEST,
    }
)
PROVIDER_ROLES = frozenset({Role.AGENT, Role.MANAGER})


class RequestLike(Protocol):
    """What access rules read; the aggregate and a stored summary both fit."""

    @property
    def requester_id(self) -> str: ...
    @property
    def requester_department_id(self) -> str: ...
    @property
    def provider_department_id(self) -> str: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def parent_id(self) -> str | None: ...


@dataclass(frozen=True)
class Actor:
    person_id: str
    department_id: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.EMPLOYEE}))

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person.id, person.department_id, person.roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


@dataclass(frozen=True)
class Visibility:
    """The requests an actor may see, as a disjunction a store can turn into one query."""

    everything: bool = False
    person_id: str | None = None  # as requester or as assignee
    provider_department_ids: frozenset[str] = frozenset()
    consumer_department_ids: frozenset[str] = frozenset()
    subrequests_raised_by_department_ids: frozenset[str] = frozenset()

    def matches(self, request: RequestLike) -> bool:
        return (
            self.everything
            or request.requester_id == self.person_id
            or (self.person_id is not None and request.assignee_id == self.person_id)
            or request.provider_department_id in self.provider_department_ids
            or request.requester_department_id in self.consumer_department_ids
            or (
                request.parent_id is not None
                and request.requester_department_id in self.subrequests_raised_by_department_ids
            )
        )


def visibility(actor: Actor) -> Visibility:
    if actor.is_admin:
        return Visibility(everything=True)
    own = frozenset({actor.department_id})
    none: frozenset[str] = frozenset()
    provider = Role.AGENT in actor.roles or Role.MANAGER in actor.roles
    return Visibility(
        person_id=actor.person_id,
        provider_department_ids=own if provider else none,
        consumer_department_ids=own if Role.MANAGER in actor.roles else none,
        subrequests_raised_by_department_ids=own if Role.AGENT in actor.roles else none,
    )


def can_see(actor: Actor, request: RequestLike) -> bool:
    return visibility(actor).matches(request)


def is_provider_side(actor: Actor, request: RequestLike) -> bool:
    """An agent or manager of the providing department, or the assignee."""
    in_department = actor.department_id == request.provider_department_id
    return (in_department and bool(actor.roles & PROVIDER_ROLES)) or (
        request.assignee_id == actor.person_id
    )


def can_see_internal_notes(actor: Actor, request: RequestLike) -> bool:
    return actor.is_admin or is_provider_side(actor, request)


def can_change(actor: Actor, request: RequestLike, action: Action) -> bool:
    if not can_see(actor, request):
        return False
    if actor.is_admin:
        return action is not Action.REPLY
    if action in REQUESTER_ACTIONS:
        return actor.person_id == request.requester_id
    if action in PROVIDER_ACTIONS:
        return is_provider_side(actor, request)
    return action is Action.COMMENT  # anyone who may see the request may talk on it


def authorize(actor: Actor, request: RequestLike, action: Action) -> None:
    """NotFound when the actor may not see the request, Forbidden when they may not act."""
    if not can_see(actor, request):
        raise NotFound("request not found")
    if not can_change(actor, request, action):
        raise Forbidden(f"you may not {action} this request")


def can_manage_catalog(actor: Actor, provider_department_id: str) -> bool:
    """Managers edit their own department's catalog; everyone may browse every catalog."""
    return actor.is_admin or (
        Role.MANAGER in actor.roles and actor.department_id == provider_department_id
    )


def can_manage_directory(actor: Actor) -> bool:
    return actor.is_admin
