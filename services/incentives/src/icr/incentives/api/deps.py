"""FastAPI dependencies: the use cases' Deps, the calling Member, strict query strings."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from icr.incentives.domain.errors import FieldError, Forbidden, InvalidInput
from icr.incentives.handlers.deps import Deps
from icr.incentives.wiring import deps_of, directory_of
from icr.kit.directory import DirectoryView, Member, member_dependency
from icr.kit.service import runtime_of


async def get_deps(request: Request) -> Deps:
    return deps_of(runtime_of(request))


def _view(request: Request) -> DirectoryView:
    return directory_of(runtime_of(request))


DepsDep = Annotated[Deps, Depends(get_deps)]
MemberDep = Annotated[Member, Depends(member_dependency(_view))]


async def get_admin(member: MemberDep) -> Member:
    if not member.is_admin:
        raise Forbidden("only an admin may do this")
    return member


AdminDep = Annotated[Member, Depends(get_admin)]


def strict_query(*allowed: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """Refuse unknown parameters and operator-like values (FastAPI would ignore them)."""
    known = frozenset(allowed)

    async def check(request: Request) -> None:
        errors = []
        for key, value in request.query_params.multi_items():
            if key not in known:
                errors.append(FieldError(key, "unknown_parameter", "is not a parameter here"))
            elif value.startswith("$") or "{" in value:
                errors.append(FieldError(key, "operator", "operator-like values are not allowed"))
        if errors:
            raise InvalidInput(errors)

    return check
