"""Expected failures mapped to HTTP once: 403, 404, 409 and 422, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from icr.incentives.domain.errors import (
    AllowanceExceeded,
    CapReached,
    Conflict,
    Forbidden,
    InsufficientPoints,
    InvalidInput,
    NotFound,
    OutOfStock,
)
from icr.kit.http import problem
from icr.kit.outbox import ConcurrentUpdate


def _simple(status: int, code: str) -> Callable[[Request, Exception], Any]:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return problem(status, code, str(exc))

    return handle


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    fields = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
    return problem(422, "invalid_input", f"invalid input: {exc}", fields=fields)


async def _concurrent(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", "the resource kept changing while we wrote; try again")


EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[..., Any]] = {
    Forbidden: _simple(403, "forbidden"),
    NotFound: _simple(404, "not_found"),
    Conflict: _simple(409, "conflict"),
    ConcurrentUpdate: _concurrent,
    InvalidInput: _invalid,
    InsufficientPoints: _simple(409, "insufficient_points"),
    OutOfStock: _simple(409, "out_of_stock"),
    AllowanceExceeded: _simple(409, "allowance_exceeded"),
    CapReached: _simple(409, "cap_reached"),
}
