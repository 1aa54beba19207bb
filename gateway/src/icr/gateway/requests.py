"""GraphQL types and queries of service requests, from the requests service."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from icr.gateway.catalog import CatalogItem, catalog_item_now
from icr.gateway.clients import Json
from icr.gateway.context import Context
from icr.gateway.directory import (
    Department,
    MaybeAwaitable,
    Person,
    department_now,
    person,
    person_now,
)
from icr.gateway.errors import BAD_USER_INPUT, check_ids
from icr.gateway.feedback import Rating
from icr.gateway.incentives import RequestIncentives

Info = strawberry.Info[Context, None]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.enum
class RequestStatus(Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING_ON_REQUESTER = "waiting_on_requester"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@strawberry.enum
class Priority(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@strawberry.enum
class RequestSort(Enum):
    CREATED = "created"
    UPDATED = "updated"
    DUE = "due"
    PRIORITY = "priority"


@strawberry.type
class SlaClock:
    """One SLA clock (first response or resolution), in business seconds."""

    target_seconds: int
    due_at: datetime | None
    elapsed_seconds: int
    remaining_seconds: int
    paused: bool
    stopped: bool
    breached: bool
    met: bool | None

    @classmethod
    def from_json(cls, row: Json) -> SlaClock:
        return cls(**{**row, "due_at": _when(row.get("due_at"))})


@strawberry.type
class Sla:
    first_response: SlaClock
    resolution: SlaClock


@strawberry.type
class Comment:
    id: strawberry.ID
    body: str
    at: datetime
    public: bool = strawberry.field(description="False for an internal note (provider side).")
    author_id: strawberry.Private[str]

    @strawberry.field
    async def author(self, info: Info) -> Person | None:
        return await person(info, self.author_id)


@strawberry.type
class HistoryEntry:
    """One step of the request's timeline: `action` is one of the request actions."""

    action: str
    at: datetime
    details: JSON
    actor_id: strawberry.Private[str]

    @strawberry.field
    async def actor(self, info: Info) -> Person | None:
        return await person(info, self.actor_id)


@strawberry.type
class ServiceRequest:
    id: strawberry.ID
    title: str
    status: RequestStatus
    priority: Priority
    catalog_item_version: int
    owning_team: str
    submitted_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    breached: bool
    sla: Sla
    allowed_actions: list[str] = strawberry.field(
        description="What the caller may do now: the names of the request mutations."
    )
    row: strawberry.Private[Json]

    @classmethod
    def from_json(cls, row: Json) -> ServiceRequest:
        return cls(
            id=strawberry.ID(row["id"]),
            title=row["title"],
            status=RequestStatus(row["status"]),
            priority=Priority(row["priority"]),
            catalog_item_version=row["catalog_item_version"],
            owning_team=row["owning_team"],
            submitted_at=datetime.fromisoformat(row["submitted_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            first_response_due_at=_when(row.get("first_response_due_at")),
            resolution_due_at=_when(row.get("resolution_due_at")),
            breached=row["breached"],
            sla=Sla(
                first_response=SlaClock.from_json(row["sla"]["first_response"]),
                resolution=SlaClock.from_json(row["sla"]["resolution"]),
            ),
            allowed_actions=row["allowed_actions"],
            row=row,
        )

    async def _detail(self, info: Info) -> Json:
        # Lists and batches leave the conversation and history out; the detail has them.
        if "history" in self.row:
            return self.row
        detail: Json = await info.context.loaders.details.load(str(self.id))
        return detail

    # Answered at once from the read cache when it has them (a page of 50 asks for these 250
    # times), else through the loaders, batched.

    @strawberry.field(graphql_type=CatalogItem | None)
    def catalog_item(self, info: Info) -> MaybeAwaitable[CatalogItem | None]:
        return catalog_item_now(info, self.row["catalog_item_id"])

    @strawberry.field(graphql_type=Person | None)
    def requester(self, info: Info) -> MaybeAwaitable[Person | None]:
        return person_now(info, self.row["requester_id"])

    @strawberry.field(graphql_type=Person | None)
    def assignee(self, info: Info) -> MaybeAwaitable[Person | None]:
        return person_now(info, self.row.get("assignee_id"))

    @strawberry.field(graphql_type=Department | None)
    def requester_department(self, info: Info) -> MaybeAwaitable[Department | None]:
        return department_now(info, self.row["requester_department_id"])

    @strawberry.field(graphql_type=Department | None)
    def provider_department(self, info: Info) -> MaybeAwaitable[Department | None]:
        return department_now(info, self.row["provider_department_id"])

    @strawberry.field(description="The request this one was raised from, if any.")
    async def parent(self, info: Info) -> ServiceRequest | None:
        return await request(info, self.row.get("parent_id"))

    @strawberry.field
    async def description(self, info: Info) -> str:
        return str((await self._detail(info))["description"])

    @strawberry.field
    async def form(self, info: Info) -> JSON:
        return JSON((await self._detail(info))["form"])

    @strawberry.field
    async def resolved_at(self, info: Info) -> datetime | None:
        return _when((await self._detail(info)).get("resolved_at"))

    @strawberry.field
    async def resolution_note(self, info: Info) -> str | None:
        note: str | None = (await self._detail(info)).get("resolution_note")
        return note

    @strawberry.field
    async def closed_at(self, info: Info) -> datetime | None:
        return _when((await self._detail(info)).get("closed_at"))

    @strawberry.field(description="Why it was rejected, cancelled or reopened last.")
    async def reason(self, info: Info) -> str | None:
        reason: str | None = (await self._detail(info)).get("reason")
        return reason

    @strawberry.field
    async def reopen_count(self, info: Info) -> int:
        return int((await self._detail(info))["reopen_count"])

    @strawberry.field(description="The conversation; internal notes only for the provider side.")
    async def comments(self, info: Info) -> list[Comment]:
        return [
            Comment(
                id=strawberry.ID(c["id"]),
                body=c["body"],
                at=datetime.fromisoformat(c["at"]),
                public=c["public"],
                author_id=c["author_id"],
            )
            for c in (await self._detail(info))["comments"]
        ]

    @strawberry.field(description="The timeline: every action, who took it and when.")
    async def history(self, info: Info) -> list[HistoryEntry]:
        return [
            HistoryEntry(
                action=h["action"],
                at=datetime.fromisoformat(h["at"]),
                details=JSON(h["details"]),
                actor_id=h["actor_id"],
            )
            for h in (await self._detail(info))["history"]
        ]

    @strawberry.field(description="Sub-requests raised from this one, to other departments.")
    async def subrequests(self, info: Info) -> list[ServiceRequest]:
        ids = [c["id"] for c in (await self._detail(info))["children"]]
        rows = await info.context.loaders.requests.load_many(ids)
        return [ServiceRequest.from_json(r) for r in rows if r]

    @strawberry.field(description="The requester's rating, from the feedback service.")
    async def rating(self, info: Info) -> Rating | None:
        row = await info.context.loaders.ratings.load(str(self.id))
        return Rating.from_json(row) if row else None

    @strawberry.field(description="The request as the incentives service tracks it.")
    async def incentives(self, info: Info) -> RequestIncentives | None:
        row = await info.context.loaders.tracked.load(str(self.id))
        return RequestIncentives.from_json(row) if row else None


async def request(info: Info, request_id: str | None) -> ServiceRequest | None:
    if not request_id:
        return None
    row = await info.context.loaders.requests.load(request_id)
    return ServiceRequest.from_json(row) if row else None


@strawberry.input
class RequestFilter:
    """The requests service's filters; each list matches any of its values."""

    statuses: list[RequestStatus] | None = None
    provider_department_ids: list[strawberry.ID] | None = None
    consumer_department_ids: list[strawberry.ID] | None = None
    priorities: list[Priority] | None = None
    breached: bool | None = None
    requester_ids: list[strawberry.ID] | None = None
    assignee_ids: list[strawberry.ID] | None = None
    parent_id: strawberry.ID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None

    def params(self) -> dict[str, Any]:
        """The service's query parameters (GET /requests)."""
        lists = {
            "status": [s.value for s in self.statuses or ()],
            "department": [str(i) for i in self.provider_department_ids or ()],
            "consumer_department": [str(i) for i in self.consumer_department_ids or ()],
            "priority": [p.value for p in self.priorities or ()],
            "requester": [str(i) for i in self.requester_ids or ()],
            "assignee": [str(i) for i in self.assignee_ids or ()],
        }
        single = {
            "breached": None if self.breached is None else str(self.breached).lower(),
            "parent": self.parent_id,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "due_from": self.due_from,
            "due_to": self.due_to,
        }
        out: dict[str, Any] = {k: v for k, v in lists.items() if v}
        for key, value in single.items():
            if value is not None:
                out[key] = value.isoformat() if isinstance(value, datetime) else str(value)
        return out


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page (the service's cursor)."
    )
    has_previous_page: bool = strawberry.field(
        default=False, description="Always false: pages go forward only."
    )


@strawberry.type
class RequestEdge:
    node: ServiceRequest


@strawberry.type
class RequestConnection:
    """A page of requests (Relay-style, forward only; the cursor is per page)."""

    edges: list[RequestEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[ServiceRequest]:
        return [e.node for e in self.edges]


@strawberry.type
class RequestsQuery:
    @strawberry.field(description="A service request by id, if the caller may see it.")
    async def request(self, info: Info, id: strawberry.ID) -> ServiceRequest | None:
        return await request(info, str(id))

    @strawberry.field(
        description="Requests by id, in the order asked (null where unknown or not visible)."
    )
    async def requests_by_ids(
        self, info: Info, ids: list[strawberry.ID]
    ) -> list[ServiceRequest | None] | None:
        rows = await info.context.loaders.requests.load_many(check_ids(ids))
        return [ServiceRequest.from_json(r) if r else None for r in rows]

    @strawberry.field(description="The requests the caller may see, filtered, sorted and paged.")
    async def requests(
        self,
        info: Info,
        filter: RequestFilter | None = None,
        sort: RequestSort = RequestSort.CREATED,
        descending: bool = True,
        first: int = 50,
        after: str | None = None,
    ) -> RequestConnection | None:
        largest = info.context.clients.settings.max_page_size
        if not 1 <= first <= largest:
            raise _bad_input(f"first must be 1 to {largest}", "first")
        params = (filter or RequestFilter()).params()
        params["sort"] = f"{'-' if descending else ''}{sort.value}"
        params["limit"] = first
        if after:
            params["cursor"] = after
        page = await info.context.clients.requests.call(
            "GET", "/requests", token=info.context.token(), params=params
        )
        edges = []
        for row in page["items"]:
            info.context.loaders.requests.prime(row["id"], row)
            edges.append(RequestEdge(node=ServiceRequest.from_json(row)))
        cursor = page.get("next_cursor")
        return RequestConnection(
            edges=edges, page_info=PageInfo(has_next_page=cursor is not None, end_cursor=cursor)
        )


def _bad_input(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT, "field": field})
