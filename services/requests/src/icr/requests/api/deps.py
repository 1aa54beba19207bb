"""FastAPI dependencies: the use cases' dependencies, the actor, and strict query strings."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from icr.kit.auth import IdentityDep
from icr.kit.service import runtime_of
from icr.requests.clock import Clock, system_clock
from icr.requests.domain.access import Actor
from icr.requests.domain.errors import FieldError, FormInvalid
from icr.requests.handlers.deps import Deps
from icr.requests.handlers.directory import resolve_actor
from icr.requests.settings import RequestsSettings


async def get_deps(request: Request) -> Deps:
    # async: FastAPI would run a plain function in its threadpool on every request. Built once
    # per runtime (the stores keep no per-request state): building them on every request showed
    # in the submit profile.
    runtime = runtime_of(request)
    cached: tuple[object, Deps] | None = getattr(request.app.state, "deps", None)
    if cached is not None and cached[0] is runtime:
        return cached[1]
    settings = runtime.settings
    assert isinstance(settings, RequestsSettings)
    clock: Clock = getattr(request.app.state, "clock", system_clock)
    deps = Deps.build(
        runtime.mongo, runtime.outbox, settings, clock, store_clock=runtime.store_clock
    )
    request.app.state.deps = (runtime, deps)
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]


async def get_actor(deps: DepsDep, identity: IdentityDep) -> Actor:
    """The caller: the person its verified bearer token names (401 before any use case runs
    otherwise), with roles and department from this service's own directory."""
    return await resolve_actor(identity.subject, deps=deps, trusted_roles=identity.trusted_roles)


ActorDep = Annotated[Actor, Depends(get_actor)]


def strict_query(*allowed: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """Refuse unknown parameters and operator-like values, which FastAPI would otherwise
    ignore: `status[$ne]=x` or `status=$ne` must never be mistaken for a filter."""
    known = frozenset(allowed)

    async def check(request: Request) -> None:
        errors = []
        for key, value in request.query_params.multi_items():
            if key not in known:
                errors.append(FieldError(key, "unknown_parameter", "is not a filter of this list"))
            elif value.startswith("$") or "{" in value:
                errors.append(FieldError(key, "operator", "operator-like values are not allowed"))
        if errors:
            raise FormInvalid(errors)

    return check
