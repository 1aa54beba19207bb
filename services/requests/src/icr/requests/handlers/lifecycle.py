"""The request lifecycle after submit: each action is load, authorize, decide, save.

A save that loses an optimistic-concurrency race reloads and decides again, so two agents
acting at once never overwrite each other; the loser may then get a conflict naming the new
status, which is what it would have got a moment later anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from icr.requests.domain.access import Actor, authorize, is_provider_side
from icr.requests.domain.directory import Role
from icr.requests.domain.errors import Conflict, FieldError, FormInvalid
from icr.requests.domain.lifecycle import Action
from icr.requests.domain.request import ServiceRequest
from icr.requests.handlers.deps import Deps, retrying
from icr.requests.handlers.reads import RequestView, detailed_view, load_visible
from icr.requests.handlers.subrequests import refresh_children, sync_parent

Change = Callable[[ServiceRequest, datetime], Awaitable[None]]

# Actions that add to the conversation, capped so a document stays far below MongoDB's 16 MB.
_TALK = frozenset({Action.COMMENT, Action.NOTE, Action.ASK, Action.REPLY})


async def _act(
    request_id: str, action: Action, change: Change, *, actor: Actor, deps: Deps
) -> RequestView:
    async def attempt() -> tuple[ServiceRequest, bool]:
        loaded = await load_visible(request_id, actor, deps)
        request = loaded.value
        authorize(actor, request, action)
        if action in _TALK and len(request.comments) >= deps.settings.max_comments_per_request:
            raise Conflict("this request has reached its comment limit")
        before = request.status
        await change(request, deps.clock())
        if request.grown_size() > deps.settings.max_request_grown_bytes:
            raise Conflict("this request is too large to take more; open a new one")
        await deps.requests.save(loaded)
        return request, request.status != before

    request, moved = await retrying(deps, attempt)
    if moved:
        await sync_parent(request, deps=deps)
    return await detailed_view(request, actor, deps)


async def accept(request_id: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.accept(by=actor.person_id, at=at)

    return await _act(request_id, Action.ACCEPT, change, actor=actor, deps=deps)


async def assign(request_id: str, assignee_id: str, *, actor: Actor, deps: Deps) -> RequestView:
    """Assign or reassign to an agent or manager of the providing department."""
    found = await deps.directory.person(assignee_id)

    async def change(r: ServiceRequest, at: datetime) -> None:
        person = found.value if found is not None else None
        if person is None or not person.active:
            raise FormInvalid(
                [FieldError("assignee_id", "unknown", "no active person with this id")]
            )
        if person.department_id != r.provider_department_id or not (
            person.roles & {Role.AGENT, Role.MANAGER}
        ):
            message = f"must be an agent or manager of {r.provider_department_id}"
            raise FormInvalid([FieldError("assignee_id", "not_an_agent", message)])
        r.assign(by=actor.person_id, at=at, assignee_id=assignee_id)

    return await _act(request_id, Action.ASSIGN, change, actor=actor, deps=deps)


async def start_work(request_id: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.start_work(by=actor.person_id, at=at)

    return await _act(request_id, Action.START, change, actor=actor, deps=deps)


async def ask_requester(request_id: str, question: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.ask_requester(by=actor.person_id, at=at, question=question)

    return await _act(request_id, Action.ASK, change, actor=actor, deps=deps)


async def reply(request_id: str, message: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.reply(by=actor.person_id, at=at, message=message)

    return await _act(request_id, Action.REPLY, change, actor=actor, deps=deps)


async def resolve(request_id: str, note: str, *, actor: Actor, deps: Deps) -> RequestView:
    """Resolve with a note; open sub-requests block it unless the catalog item allows it."""

    async def change(r: ServiceRequest, at: datetime) -> None:
        await refresh_children(r, at=at, deps=deps)
        r.resolve(by=actor.person_id, at=at, note=note)

    return await _act(request_id, Action.RESOLVE, change, actor=actor, deps=deps)


async def close(request_id: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.close(by=actor.person_id, at=at, policy=deps.policy)

    return await _act(request_id, Action.CLOSE, change, actor=actor, deps=deps)


async def reopen(request_id: str, reason: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.reopen(by=actor.person_id, at=at, reason=reason, policy=deps.policy)

    return await _act(request_id, Action.REOPEN, change, actor=actor, deps=deps)


async def reject(request_id: str, reason: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.reject(by=actor.person_id, at=at, reason=reason)

    return await _act(request_id, Action.REJECT, change, actor=actor, deps=deps)


async def cancel(request_id: str, reason: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.cancel(by=actor.person_id, at=at, reason=reason)

    return await _act(request_id, Action.CANCEL, change, actor=actor, deps=deps)


async def comment(request_id: str, body: str, *, actor: Actor, deps: Deps) -> RequestView:
    """A public comment; from the provider side it also counts as the first response."""

    async def change(r: ServiceRequest, at: datetime) -> None:
        r.comment(by=actor.person_id, at=at, body=body, by_provider=is_provider_side(actor, r))

    return await _act(request_id, Action.COMMENT, change, actor=actor, deps=deps)


async def add_note(request_id: str, body: str, *, actor: Actor, deps: Deps) -> RequestView:
    async def change(r: ServiceRequest, at: datetime) -> None:
        r.add_internal_note(by=actor.person_id, at=at, body=body)

    return await _act(request_id, Action.NOTE, change, actor=actor, deps=deps)
