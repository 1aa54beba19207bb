"""Mutations of service requests: submit, then one mutation per request action.

One vocabulary: each mutation is named exactly as the action in the requests service's
`allowed_actions` and its REST path (`POST /requests/{id}/{action}`), so a client offers the
mutations `allowedActions` names. Each returns the changed request or a typed problem.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from
from icr.gateway.requests import Priority, ServiceRequest

Info = strawberry.Info[Context, None]

RequestResult = Annotated[
    ServiceRequest | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("RequestResult", description="The request as the action left it, or why not."),
]


@strawberry.input
class SubmitRequestInput:
    catalog_item_id: strawberry.ID
    title: str
    priority: Priority | None = None
    form: JSON = strawberry.field(default_factory=dict)
    description: str = ""
    parent_id: strawberry.ID | None = None


@strawberry.input
class SubrequestInput:
    catalog_item_id: strawberry.ID
    title: str
    priority: Priority | None = None
    form: JSON = strawberry.field(default_factory=dict)
    description: str = ""


async def _post(info: Info, path: str, body: dict[str, Any] | None) -> RequestResult:
    try:
        row = await info.context.clients.requests.call(
            "POST", path, token=info.context.token(), json=body
        )
    except UpstreamError as error:
        return problem_from(error)
    return ServiceRequest.from_json(row)


async def _act(
    info: Info, request_id: strawberry.ID, action: str, body: dict[str, Any] | None = None
) -> RequestResult:
    return await _post(info, f"/requests/{segment(str(request_id))}/{action}", body)


def _submission(data: SubmitRequestInput | SubrequestInput) -> dict[str, Any]:
    return {
        "catalog_item_id": str(data.catalog_item_id),
        "title": data.title,
        "priority": data.priority.value if data.priority else None,
        "form": data.form,
        "description": data.description,
    }


@strawberry.type
class RequestsMutation:
    @strawberry.mutation(description="Submit a service request from a catalog item.")
    async def submit_request(self, info: Info, input: SubmitRequestInput) -> RequestResult:
        body = _submission(input)
        if input.parent_id is not None:
            body["parent_id"] = str(input.parent_id)
        return await _post(info, "/requests", body)

    @strawberry.mutation(description="Provider: take a submitted request on.")
    async def accept(self, info: Info, request_id: strawberry.ID) -> RequestResult:
        return await _act(info, request_id, "accept")

    @strawberry.mutation(description="Provider: give the request to an agent.")
    async def assign(
        self, info: Info, request_id: strawberry.ID, assignee_id: strawberry.ID
    ) -> RequestResult:
        return await _act(info, request_id, "assign", {"assignee_id": str(assignee_id)})

    @strawberry.mutation(description="Provider: start work on an accepted request.")
    async def start(self, info: Info, request_id: strawberry.ID) -> RequestResult:
        return await _act(info, request_id, "start")

    @strawberry.mutation(description="Provider: ask the requester; the resolution clock pauses.")
    async def ask(self, info: Info, request_id: strawberry.ID, question: str) -> RequestResult:
        return await _act(info, request_id, "ask", {"question": question})

    @strawberry.mutation(description="Requester: answer a question; the clock resumes.")
    async def reply(
        self, info: Info, request_id: strawberry.ID, message: str = ""
    ) -> RequestResult:
        return await _act(info, request_id, "reply", {"message": message})

    @strawberry.mutation(description="Provider: resolve, with a note for the requester.")
    async def resolve(self, info: Info, request_id: strawberry.ID, note: str) -> RequestResult:
        return await _act(info, request_id, "resolve", {"note": note})

    @strawberry.mutation(description="Requester: confirm the resolution.")
    async def close(self, info: Info, request_id: strawberry.ID) -> RequestResult:
        return await _act(info, request_id, "close")

    @strawberry.mutation(description="Requester: the resolution did not do it.")
    async def reopen(self, info: Info, request_id: strawberry.ID, reason: str) -> RequestResult:
        return await _act(info, request_id, "reopen", {"reason": reason})

    @strawberry.mutation(description="Provider: decline the request.")
    async def reject(self, info: Info, request_id: strawberry.ID, reason: str) -> RequestResult:
        return await _act(info, request_id, "reject", {"reason": reason})

    @strawberry.mutation(description="Requester: withdraw the request.")
    async def cancel(
        self, info: Info, request_id: strawberry.ID, reason: str = ""
    ) -> RequestResult:
        return await _act(info, request_id, "cancel", {"reason": reason})

    @strawberry.mutation(description="A public comment (the requester's, while asked, replies).")
    async def comment(self, info: Info, request_id: strawberry.ID, body: str) -> RequestResult:
        return await _act(info, request_id, "comment", {"body": body})

    @strawberry.mutation(description="Provider: an internal note, never shown to the requester.")
    async def note(self, info: Info, request_id: strawberry.ID, body: str) -> RequestResult:
        return await _act(info, request_id, "note", {"body": body})

    @strawberry.mutation(description="Provider: raise a sub-request; returns the new request.")
    async def subrequest(
        self, info: Info, request_id: strawberry.ID, input: SubrequestInput
    ) -> RequestResult:
        return await _act(info, request_id, "subrequest", _submission(input))
