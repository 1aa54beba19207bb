"""Strict HTTP input: bodies that refuse unknown fields, query strings that refuse unknown
parameters and operator-like values. Refusals are FastAPI validation errors, so they come back
as the kit's 422 with one entry per field (`icr.kit.http.validation_problem`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict


class StrictBody(BaseModel):
    """Base of request bodies: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def strict_query(*allowed: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A route dependency refusing parameters outside `allowed`, and values like `$ne` or
    `{...}` that must never be mistaken for a filter (FastAPI would ignore the first)."""
    known = frozenset(allowed)

    async def check(request: Request) -> None:
        errors: list[dict[str, Any]] = []
        for key, value in request.query_params.multi_items():
            if key not in known:
                errors.append(
                    {"loc": ("query", key), "type": "unknown_parameter", "msg": "not a parameter"}
                )
            elif value.startswith("$") or "{" in value:
                errors.append(
                    {"loc": ("query", key), "type": "operator", "msg": "operator-like value"}
                )
        if errors:
            raise RequestValidationError(errors)

    return check
