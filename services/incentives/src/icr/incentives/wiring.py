"""Builds the use cases' dependencies on a runtime's Mongo stores, once per runtime."""

from __future__ import annotations

from icr.incentives.clock import Clock, system_clock
from icr.incentives.handlers.deps import Deps
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store import (
    AccountStore,
    AllowanceStore,
    BoardStore,
    CapStore,
    FactStore,
    LedgerStore,
    PolicyStore,
    RedemptionStore,
    RewardStore,
)
from icr.kit.directory import DirectoryView
from icr.kit.service import Runtime


def deps_of(runtime: Runtime) -> Deps:
    """The runtime's Deps, built on first use (the stores keep no per-call state)."""
    cached: Deps | None = getattr(runtime, "incentives_deps", None)
    if cached is not None:
        return cached
    settings = runtime.settings
    assert isinstance(settings, IncentivesSettings)
    clock: Clock = getattr(runtime, "incentives_clock", system_clock)
    mongo, outbox = runtime.mongo, runtime.outbox
    deps = Deps(
        ledger=LedgerStore(mongo, outbox),
        accounts=AccountStore(mongo),
        boards=BoardStore(mongo),
        caps=CapStore(mongo),
        facts=FactStore(mongo),
        policies=PolicyStore(mongo, outbox),
        allowances=AllowanceStore(mongo, outbox),
        rewards=RewardStore(mongo),
        redemptions=RedemptionStore(mongo, outbox),
        people=directory_of(runtime),
        settings=settings,
        clock=clock,
    )
    runtime.incentives_deps = deps  # type: ignore[attr-defined]
    return deps


def directory_of(runtime: Runtime) -> DirectoryView:
    view: DirectoryView | None = getattr(runtime, "incentives_directory", None)
    if view is None:
        view = DirectoryView(runtime.mongo)
        runtime.incentives_directory = view  # type: ignore[attr-defined]
    return view
