"""FastAPI dependencies: the use cases' dependencies (built once per runtime) and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from icr.feedback.handlers.deps import Deps
from icr.feedback.settings import FeedbackSettings
from icr.kit.clock import Clock, system_clock
from icr.kit.directory import DirectoryView, Member, member_dependency
from icr.kit.service import runtime_of


def deps_of(request: Request) -> Deps:
    runtime = runtime_of(request)
    cached: tuple[object, Deps] | None = getattr(request.app.state, "deps", None)
    if cached is not None and cached[0] is runtime:
        return cached[1]
    settings = runtime.settings
    assert isinstance(settings, FeedbackSettings)
    clock: Clock = getattr(request.app.state, "clock", system_clock)
    deps = Deps.build(
        runtime.mongo, runtime.outbox, settings, clock, store_clock=runtime.store_clock
    )
    request.app.state.deps = (runtime, deps)
    return deps


async def get_deps(request: Request) -> Deps:
    return deps_of(request)


def _view(request: Request) -> DirectoryView:
    view = deps_of(request).directory
    assert isinstance(view, DirectoryView)
    return view


DepsDep = Annotated[Deps, Depends(get_deps)]
MemberDep = Annotated[Member, Depends(member_dependency(_view))]
