"""Expected failures mapped to HTTP once: 403, 404, 409 and 422, never a 500 (401 comes
from the kit's token verifier and directory view)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from icr.feedback.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from icr.kit.http import problem
from icr.kit.outbox import ConcurrentUpdate


async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
    return problem(403, "forbidden", str(exc))


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return problem(404, "not_found", str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", str(exc))


async def _concurrent(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", "the resource kept changing while we wrote; try again")


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    fields = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
    return problem(422, "invalid_input", f"invalid input: {exc}", fields=fields)


EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[..., Any]] = {
    Forbidden: _forbidden,
    NotFound: _not_found,
    Conflict: _conflict,
    ConcurrentUpdate: _concurrent,
    InvalidInput: _invalid,
}
