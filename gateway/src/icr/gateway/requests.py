"""GraphQL types and operations served from the requests service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import Json, UpstreamError
from icr.gateway.context import Context
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from
from icr.gateway.feedback import Rating
from icr.gateway.incentives import RequestIncentives

Info = strawberry.Info[Context, None]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type
class ServiceRequest:
    id: strawberry.ID
    title: str
    status: str
    priority: str
    catalog_item_id: strawberry.ID
    catalog_item_version: int
    requester_id: strawberry.ID
    requester_department_id: strawberry.ID
    provider_department_id: strawberry.ID
    submitted_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None

    @classmethod
    def from_json(cls, row: Json) -> ServiceRequest:
        return cls(
            id=strawberry.ID(row["id"]),
            title=row["title"],
            status=row["status"],
            priority=row["priority"],
            catalog_item_id=strawberry.ID(row["catalog_item_id"]),
            catalog_item_version=row["catalog_item_version"],
            requester_id=strawberry.ID(row["requester_id"]),
            requester_department_id=strawberry.ID(row["requester_department_id"]),
            provider_department_id=strawberry.ID(row["provider_department_id"]),
            submitted_at=datetime.fromisoformat(row["submitted_at"]),
            first_response_due_at=_when(row.get("first_response_due_at")),
            resolution_due_at=_when(row.get("resolution_due_at")),
        )

    @strawberry.field(description="The requester's rating, from the feedback service.")
    async def rating(self, info: Info) -> Rating | None:
        row = await info.context.loaders.ratings.load(self.id)
        return Rating.from_json(row) if row else None

    @strawberry.field(description="The request as the incentives service tracks it.")
    async def incentives(self, info: Info) -> RequestIncentives | None:
        row = await info.context.loaders.tracked.load(self.id)
        return RequestIncentives.from_json(row) if row else None


@strawberry.input
class SubmitRequestInput:
    catalog_item_id: strawberry.ID
    title: str
    priority: str | None = None
    form: JSON = strawberry.field(default_factory=dict)


SubmitRequestResult = Annotated[
    ServiceRequest | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("SubmitRequestResult"),
]


@strawberry.type
class RequestsQuery:
    @strawberry.field(description="A service request by id, if the caller may see it.")
    async def request(self, info: Info, id: strawberry.ID) -> ServiceRequest | None:
        row = await info.context.loaders.requests.load(str(id))
        return ServiceRequest.from_json(row) if row else None


@strawberry.type
class RequestsMutation:
    @strawberry.mutation(description="Submit a service request from a catalog item.")
    async def submit_request(self, info: Info, input: SubmitRequestInput) -> SubmitRequestResult:
        body = {
            "catalog_item_id": str(input.catalog_item_id),
            "title": input.title,
            "priority": input.priority,
            "form": input.form,
        }
        try:
            row = await info.context.clients.requests.call(
                "POST", "/requests", token=info.context.token(), json=body
            )
        except UpstreamError as error:
            return problem_from(error)
        return ServiceRequest.from_json(row)
