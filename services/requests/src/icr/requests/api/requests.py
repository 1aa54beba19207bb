"""Service request routes: submit, read, list, and one POST per lifecycle action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from icr.requests.api.deps import ActorDep, DepsDep, strict_query
from icr.requests.api.schemas import (
    ID_PATTERN,
    AskIn,
    AssignIn,
    BodyIn,
    CancelIn,
    ReasonIn,
    ReplyIn,
    ResolveIn,
    SubmitIn,
    SubrequestIn,
)
from icr.requests.api.views import RequestDetailOut, RequestOut, RequestPageOut
from icr.requests.domain.catalog import Priority
from icr.requests.domain.errors import FieldError, FormInvalid
from icr.requests.domain.lifecycle import Action, Status
from icr.requests.handlers import lifecycle, reads
from icr.requests.handlers.submit import Submission, submit_request
from icr.requests.store import RequestFilters, SortKey

router = APIRouter(prefix="/requests", tags=["requests"])

SORTS = [f"{sign}{key}" for key in SortKey for sign in ("", "-")]
LIST_PARAMS = (
    "status",
    "department",
    "consumer_department",
    "priority",
    "breached",
    "requester",
    "assignee",
    "parent",
    "created_from",
    "created_to",
    "due_from",
    "due_to",
    "sort",
    "limit",
    "cursor",
)
IdList = Annotated[list[Annotated[str, Query(pattern=ID_PATTERN)]], Query()]


@router.post("", status_code=201, response_model=RequestDetailOut)
async def submit(body: SubmitIn, actor: ActorDep, deps: DepsDep) -> RequestDetailOut:
    """Submit a request from a catalog item; each invalid form field gets its own error."""
    submission = Submission(
        catalog_item_id=body.catalog_item_id,
        title=body.title,
        form=body.form,
        priority=body.priority,
        description=body.description,
        parent_id=body.parent_id,
    )
    return RequestDetailOut.of(await submit_request(submission, actor=actor, deps=deps))


@router.get("/batch", response_model=list[RequestOut], dependencies=[Depends(strict_query("id"))])
async def batch(
    actor: ActorDep, deps: DepsDep, id: Annotated[list[str], Query(min_length=1)]
) -> list[RequestOut]:
    """The requests among `id` the caller may see; unknown or invisible ids are absent."""
    return [RequestOut.of(v) for v in await reads.batch_requests(id, actor=actor, deps=deps)]


def _aware(name: str, at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise FormInvalid([FieldError(name, "naive", "must include a time zone offset")])
    return at


@router.get("", response_model=RequestPageOut, dependencies=[Depends(strict_query(*LIST_PARAMS))])
async def list_requests(
    actor: ActorDep,
    deps: DepsDep,
    status: Annotated[list[Status], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    department: Annotated[list[str], Query(description="Provider department ids.")] = [],  # noqa: B006
    consumer_department: Annotated[list[str], Query()] = [],  # noqa: B006
    priority: Annotated[list[Priority], Query()] = [],  # noqa: B006
    breached: bool | None = None,
    requester: Annotated[list[str], Query()] = [],  # noqa: B006
    assignee: Annotated[list[str], Query()] = [],  # noqa: B006
    parent: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    due_from: datetime | None = None,
    due_to: datetime | None = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)}.")] = "-created",
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> RequestPageOut:
    """The requests the caller may see, filtered, sorted and paged by cursor."""
    if sort not in SORTS:
        raise FormInvalid([FieldError("sort", "invalid_choice", f"must be one of {SORTS}")])
    filters = RequestFilters(
        statuses=tuple(status),
        provider_department_ids=tuple(department),
        consumer_department_ids=tuple(consumer_department),
        priorities=tuple(priority),
        breached=breached,
        requester_ids=tuple(requester),
        assignee_ids=tuple(assignee),
        parent_id=parent,
        created_from=_aware("created_from", created_from),
        created_to=_aware("created_to", created_to),
        due_from=_aware("due_from", due_from),
        due_to=_aware("due_to", due_to),
    )
    listing = reads.ListRequests(
        filters,
        sort=SortKey(sort.lstrip("-")),
        descending=sort.startswith("-"),
        limit=limit,
        cursor=cursor,
    )
    return RequestPageOut.of(await reads.list_requests(listing, actor=actor, deps=deps))


@router.get("/{request_id}", response_model=RequestDetailOut)
async def get_request(request_id: str, actor: ActorDep, deps: DepsDep) -> RequestDetailOut:
    """One request with its SLA snapshot, conversation, history and sub-requests."""
    return RequestDetailOut.of(await reads.get_request(request_id, actor=actor, deps=deps))


# --- lifecycle ---------------------------------------------------------------------------------

Detail = RequestDetailOut


def action_path(action: Action) -> str:
    """Each action's path is its name: the same word in allowed_actions, here, and the
    gateway's mutation."""
    return f"/{{request_id}}/{action}"


@router.post(action_path(Action.ACCEPT), response_model=Detail)
async def accept(request_id: str, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.accept(request_id, actor=actor, deps=deps))


@router.post(action_path(Action.ASSIGN), response_model=Detail)
async def assign(request_id: str, body: AssignIn, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.assign(request_id, body.assignee_id, actor=actor, deps=deps))


@router.post(action_path(Action.START), response_model=Detail)
async def start(request_id: str, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.start_work(request_id, actor=actor, deps=deps))


@router.post(action_path(Action.ASK), response_model=Detail)
async def ask(request_id: str, body: AskIn, actor: ActorDep, deps: DepsDep) -> Detail:
    """Ask the requester; the resolution clock pauses until they reply."""
    return Detail.of(
        await lifecycle.ask_requester(request_id, body.question, actor=actor, deps=deps)
    )


@router.post(action_path(Action.REPLY), response_model=Detail)
async def reply(request_id: str, body: ReplyIn, actor: ActorDep, deps: DepsDep) -> Detail:
    """The requester answers; the resolution clock resumes."""
    return Detail.of(await lifecycle.reply(request_id, body.message, actor=actor, deps=deps))


@router.post(action_path(Action.RESOLVE), response_model=Detail)
async def resolve(request_id: str, body: ResolveIn, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.resolve(request_id, body.note, actor=actor, deps=deps))


@router.post(action_path(Action.CLOSE), response_model=Detail)
async def close(request_id: str, actor: ActorDep, deps: DepsDep) -> Detail:
    """The requester confirms the resolution."""
    return Detail.of(await lifecycle.close(request_id, actor=actor, deps=deps))


@router.post(action_path(Action.REOPEN), response_model=Detail)
async def reopen(request_id: str, body: ReasonIn, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.reopen(request_id, body.reason, actor=actor, deps=deps))


@router.post(action_path(Action.REJECT), response_model=Detail)
async def reject(request_id: str, body: ReasonIn, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.reject(request_id, body.reason, actor=actor, deps=deps))


@router.post(action_path(Action.CANCEL), response_model=Detail)
async def cancel(request_id: str, body: CancelIn, actor: ActorDep, deps: DepsDep) -> Detail:
    return Detail.of(await lifecycle.cancel(request_id, body.reason, actor=actor, deps=deps))


@router.post(action_path(Action.COMMENT), response_model=Detail)
async def comment(request_id: str, body: BodyIn, actor: ActorDep, deps: DepsDep) -> Detail:
    """A public comment (from the requester while waiting, it is their reply)."""
    return Detail.of(await lifecycle.comment(request_id, body.body, actor=actor, deps=deps))


@router.post(action_path(Action.NOTE), response_model=Detail)
async def note(request_id: str, body: BodyIn, actor: ActorDep, deps: DepsDep) -> Detail:
    """An internal note, visible to the provider side only and never published."""
    return Detail.of(await lifecycle.add_note(request_id, body.body, actor=actor, deps=deps))


@router.post(action_path(Action.SUBREQUEST), status_code=201, response_model=Detail)
async def subrequest(request_id: str, body: SubrequestIn, actor: ActorDep, deps: DepsDep) -> Detail:
    """Raise a sub-request to another department; returns the new child request."""
    submission = Submission(
        catalog_item_id=body.catalog_item_id,
        title=body.title,
        form=body.form,
        priority=body.priority,
        description=body.description,
        parent_id=request_id,
    )
    return Detail.of(await submit_request(submission, actor=actor, deps=deps))
