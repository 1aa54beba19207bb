"""Typed GraphQL errors: mutations return a union of the result and these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError

from icr.gateway.clients import UpstreamError


@strawberry.type
class FieldError:
    field: str
    message: str


@strawberry.type
class InvalidInput:
    message: str
    fields: list[FieldError]


@strawberry.type
class NotFound:
    message: str


@strawberry.type
class Forbidden:
    message: str


@strawberry.type
class Conflict:
    message: str
    current_status: str | None = None


Problem = InvalidInput | NotFound | Forbidden | Conflict

BAD_USER_INPUT = "BAD_USER_INPUT"
MAX_IDS = 1_000


def check_ids(ids: Sequence[str], limit: int = MAX_IDS) -> list[str]:
    """Ids of one by-ids field as strings; more than `limit` is refused before any call."""
    if len(ids) > limit:
        raise GraphQLError(
            f"at most {limit} ids per field",
            extensions={"code": BAD_USER_INPUT, "limit": limit, "found": len(ids)},
        )
    return [str(i) for i in ids]


def _fields(details: dict[str, Any]) -> list[FieldError]:
    out = []
    for item in details.get("fields", []):
        loc = item.get("field") or ".".join(str(p) for p in item.get("loc", [])[1:])
        out.append(
            FieldError(field=loc or "input", message=str(item.get("message") or item.get("msg")))
        )
    return out


def problem_from(error: UpstreamError) -> Problem:
    """Maps a service's error answer to the GraphQL error type; 5xx stays an exception."""
    if error.status in (400, 422):
        return InvalidInput(message=error.message, fields=_fields(error.details))
    if error.status == 404:
        return NotFound(message=error.message)
    if error.status in (401, 403):
        return Forbidden(message=error.message)
    if error.status == 409:
        return Conflict(message=error.message, current_status=error.details.get("current_status"))
    raise error
