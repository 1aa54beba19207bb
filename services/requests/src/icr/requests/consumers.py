"""Reactions of the requests service to other services' events."""

from __future__ import annotations

from collections.abc import Callable

from icr.contracts import Envelope
from icr.contracts.feedback import RecoveryNeeded
from icr.kit.consumer import Subscription
from icr.kit.service import Runtime
from icr.requests.clock import Clock, system_clock
from icr.requests.handlers.deps import Deps
from icr.requests.handlers.recovery import open_recovery_request
from icr.requests.settings import RequestsSettings

GROUP = "icr.requests"


def recovery_subscription(clock: Clock = system_clock) -> Callable[[Runtime], Subscription]:
    """The consumer that opens a recovery request for each low rating, once."""

    def build(runtime: Runtime) -> Subscription:
        settings = runtime.settings
        assert isinstance(settings, RequestsSettings)
        deps = Deps.build(
            runtime.mongo, runtime.outbox, settings, clock, store_clock=runtime.store_clock
        )
        sub = Subscription(group=GROUP)

        @sub.on(RecoveryNeeded)
        async def open_recovery_when_rating_low(event: RecoveryNeeded, envelope: Envelope) -> None:
            await open_recovery_request(event, deps=deps)

        return sub

    return build
