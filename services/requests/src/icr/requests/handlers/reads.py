"""Reading requests: one, a batch, or a filtered page; each narrowed to what the actor sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from icr.requests.domain.access import (
    Actor,
    can_change,
    can_see,
    can_see_internal_notes,
    visibility,
)
from icr.requests.domain.errors import FieldError, FormInvalid, NotFound
from icr.requests.domain.lifecycle import Action
from icr.requests.domain.request import ServiceRequest
from icr.requests.handlers.deps import Deps
from icr.requests.store import RequestFilters, RequestQuery, SortKey, Versioned, decode_cursor


@dataclass(frozen=True)
class RequestView:
    """A request as one actor may see it, at one instant."""

    request: ServiceRequest
    now: datetime
    notes_visible: bool
    actions: list[Action]
    children: list[ServiceRequest] | None = None  # only in the detailed view


def view_of(
    request: ServiceRequest,
    actor: Actor,
    now: datetime,
    children: list[ServiceRequest] | None = None,
) -> RequestView:
    return RequestView(
        request=request,
        now=now,
        notes_visible=can_see_internal_notes(actor, request),
        actions=[a for a in request.allowed_actions() if can_change(actor, request, a)],
        children=children,
    )


async def detailed_view(request: ServiceRequest, actor: Actor, deps: Deps) -> RequestView:
    children = await deps.requests.children_of(request.id)
    return view_of(request, actor, deps.clock(), children)


async def load_visible(request_id: str, actor: Actor, deps: Deps) -> Versioned[ServiceRequest]:
    """The request, or NotFound when it does not exist or the actor may not see it (the two
    look the same, so ids of other people's requests leak nothing)."""
    loaded = await deps.requests.get(request_id)
    if loaded is None or not can_see(actor, loaded.value):
        raise NotFound(f"request {request_id} not found")
    return loaded


async def get_request(request_id: str, *, actor: Actor, deps: Deps) -> RequestView:
    loaded = await load_visible(request_id, actor, deps)
    return await detailed_view(loaded.value, actor, deps)


async def batch_requests(ids: list[str], *, actor: Actor, deps: Deps) -> list[RequestView]:
    """The requests among `ids` the actor may see, in the order asked; others are absent."""
    if len(set(ids)) > deps.settings.max_batch_ids:
        raise FormInvalid(
            [FieldError("id", "too_many", f"at most {deps.settings.max_batch_ids} ids per call")]
        )
    now = deps.clock()
    found = {r.id: r for r in await deps.requests.by_ids(ids) if can_see(actor, r)}
    unique = list(dict.fromkeys(ids))
    return [view_of(found[i], actor, now) for i in unique if i in found]


@dataclass(frozen=True)
class ListRequests:
    """A listing as the caller asks for it: filters, order, page size and where to resume."""

    filters: RequestFilters = field(default_factory=RequestFilters)
    sort: SortKey = SortKey.CREATED
    descending: bool = True
    limit: int | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class RequestPage:
    items: list[RequestView]
    next_cursor: str | None


async def list_requests(filters: ListRequests, *, actor: Actor, deps: Deps) -> RequestPage:
    settings = deps.settings
    limit = filters.limit if filters.limit is not None else settings.default_page_size
    if not 1 <= limit <= settings.max_page_size:
        raise FormInvalid(
            [FieldError("limit", "out_of_range", f"must be 1 to {settings.max_page_size}")]
        )
    after = None
    if filters.cursor:
        after = decode_cursor(filters.cursor, sort=filters.sort, descending=filters.descending)
    query = RequestQuery(
        visibility=visibility(actor),
        filters=filters.filters,
        sort=filters.sort,
        descending=filters.descending,
        limit=limit,
        after=after,
    )
    page = await deps.requests.list(query)
    now = deps.clock()
    return RequestPage([view_of(r, actor, now) for r in page.items], page.next_cursor)
