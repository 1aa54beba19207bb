"""Expected failures mapped to HTTP once: 401, 403, 404, 409 and 422, never a 500.

FastAPI's own validation errors (422) and oversized bodies (413) are mapped by icr.kit.http
the same way for every service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from icr.kit.auth import InvalidToken, challenge
from icr.kit.http import problem
from icr.kit.outbox import ConcurrentUpdate
from icr.requests.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    FormInvalid,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from icr.requests.handlers.errors import ImportPending, ImportRejected, Unauthenticated


def _fields(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "code": e.code, "message": e.message} for e in errors]


async def _unauthenticated(_: Request, exc: Exception) -> JSONResponse:
    # A valid token for a person the directory does not know (or deactivated) is refused like
    # a bad token: the same 401 and challenge.
    return problem(401, "unauthenticated", str(exc), headers=challenge(InvalidToken(str(exc))))


async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
    return problem(403, "forbidden", str(exc))


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return problem(404, "not_found", str(exc))


async def _illegal_transition(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    return problem(409, "conflict", str(exc), current_status=exc.current_status, action=exc.action)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", str(exc))


async def _concurrent(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", "the resource kept changing while we wrote; try again")


async def _import_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImportRejected)
    rows = [
        {"row": r.row, "kind": r.kind, "id": r.id, "errors": _fields(r.errors)} for r in exc.rows
    ]
    return problem(422, "invalid_input", str(exc), rows=rows)


async def _import_pending(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImportPending)
    return problem(503, "import_pending", str(exc), import_id=exc.import_id)


async def _form_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FormInvalid)
    summary = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return problem(422, "invalid_input", f"invalid input: {summary}", fields=_fields(exc.errors))


async def _invalid_input(_: Request, exc: Exception) -> JSONResponse:
    return problem(422, "invalid_input", str(exc), fields=[])


EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[..., Any]] = {
    Unauthenticated: _unauthenticated,
    Forbidden: _forbidden,
    NotFound: _not_found,
    IllegalTransition: _illegal_transition,
    Conflict: _conflict,
    ConcurrentUpdate: _concurrent,
    ImportRejected: _import_rejected,
    ImportPending: _import_pending,
    FormInvalid: _form_invalid,
    InvalidInput: _invalid_input,
}
