"""Subscriptions (graphql-transport-ws): a request's updates, my requests, my department's
queue and SLA warnings, fed by the gateway's Kafka hub.

Authorization is per event and with the subscriber's own token: before an event is sent, the
request is read from the requests service as the subscriber (`/requests/batch`), so what a
subscriber sees live is exactly what they could query; an event about a request they may not
see is never sent. The read is also the update's payload: the request as it is now.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import datetime

import strawberry
from graphql import GraphQLError

from icr.contracts import Envelope
from icr.gateway.clients import Json, UpstreamError
from icr.gateway.context import Context
from icr.gateway.directory import person
from icr.gateway.hub import Hub, SlowSubscriber
from icr.gateway.requests import ServiceRequest

Info = strawberry.Info[Context, None]
SLA = frozenset({"requests.sla.warning", "requests.sla.breached"})
TOO_MANY = "TOO_MANY_SUBSCRIPTIONS"
SLOW = "SUBSCRIBER_TOO_SLOW"


@strawberry.type
class RequestUpdate:
    """Something happened to a request: the event's type and the request as it is now."""

    event_type: str = strawberry.field(description="e.g. requests.request.accepted")
    at: datetime
    request: ServiceRequest


@strawberry.type
class SlaAlert:
    """An SLA clock of a request is about to run out (warning) or ran out (breached)."""

    kind: str = strawberry.field(description="warning or breached")
    clock: str = strawberry.field(description="first_response or resolution")
    due_at: datetime
    remaining_seconds: int | None
    at: datetime
    request: ServiceRequest


def _hub(info: Info) -> Hub:
    hub: Hub = info.context.clients.hub
    return hub


async def _visible(info: Info, request_id: str) -> Json | None:
    """The request as the subscriber may see it now, or None: the service decides."""
    try:
        rows = await info.context.clients.requests.call(
            "GET", "/requests/batch", token=info.context.token(), params={"id": [request_id]}
        )
    except UpstreamError as error:
        if error.status == 401:  # the token expired or was revoked: the subscription ends
            raise GraphQLError(
                "the token is no longer valid", extensions={"code": "UNAUTHENTICATED"}
            ) from error
        raise
    return rows[0] if rows else None


async def _feed(
    info: Info, wants: Callable[[Envelope], bool], keep: Callable[[Json], bool]
) -> AsyncGenerator[tuple[Envelope, Json], None]:
    """Events `wants` lets through, for requests the subscriber sees and `keep` accepts."""
    context = info.context
    limit = context.clients.settings.max_subscriptions_per_connection
    if context.subscriptions >= limit:
        raise GraphQLError(
            f"at most {limit} subscriptions per connection", extensions={"code": TOO_MANY}
        )
    context.token()  # UNAUTHENTICATED before anything is subscribed
    hub = _hub(info)
    # The hub also carries the incentives topics: only requests events concern these feeds.
    subscriber = await hub.subscribe(lambda e: e.type.startswith("requests.") and wants(e))
    context.subscriptions += 1
    try:
        while True:
            try:
                envelope = await subscriber.next()
            except SlowSubscriber as exc:
                raise GraphQLError(str(exc), extensions={"code": SLOW}) from exc
            row = await _visible(info, envelope.aggregate_id)
            if row is None:
                continue
            hub.learn(row["id"], row)
            if keep(row):
                context.fresh_loaders()
                yield envelope, row
    finally:
        hub.unsubscribe(subscriber)
        context.subscriptions -= 1


def _update(envelope: Envelope, row: Json) -> RequestUpdate:
    return RequestUpdate(
        event_type=envelope.type, at=envelope.time, request=ServiceRequest.from_json(row)
    )


async def _my_department(info: Info) -> str:
    identity = info.context.identity
    me = await person(info, identity.subject if identity else None)
    if me is None:
        raise GraphQLError("you are not in the directory", extensions={"code": "FORBIDDEN"})
    return me.department_id


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(description="Every change to one request the caller may see.")
    async def request_updated(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[RequestUpdate, None]:
        wanted = str(id)
        async for envelope, row in _feed(info, lambda e: e.aggregate_id == wanted, lambda _: True):
            yield _update(envelope, row)

    @strawberry.subscription(description="Changes to the requests the caller submitted.")
    async def my_requests(self, info: Info) -> AsyncGenerator[RequestUpdate, None]:
        info.context.token()
        assert info.context.identity is not None
        me, hub = info.context.identity.subject, _hub(info)

        def wants(envelope: Envelope) -> bool:
            if envelope.type in SLA:
                return False
            facts = hub.facts_of(envelope.aggregate_id)
            return facts is None or facts.requester_id in (None, me)

        async for envelope, row in _feed(info, wants, lambda r: r["requester_id"] == me):
            yield _update(envelope, row)

    @strawberry.subscription(
        description="Changes to the requests a department provides (by default the caller's)."
    )
    async def department_queue(
        self, info: Info, department_id: strawberry.ID | None = None
    ) -> AsyncGenerator[RequestUpdate, None]:
        info.context.token()
        department = str(department_id) if department_id else await _my_department(info)
        hub = _hub(info)

        def wants(envelope: Envelope) -> bool:
            if envelope.type in SLA:
                return False
            facts = hub.facts_of(envelope.aggregate_id)
            return facts is None or facts.provider_department_id in (None, department)

        def keep(row: Json) -> bool:
            return bool(row["provider_department_id"] == department)

        async for envelope, row in _feed(info, wants, keep):
            yield _update(envelope, row)

    @strawberry.subscription(
        description="SLA warnings and breaches of a department's requests (the caller's)."
    )
    async def sla_warnings(
        self, info: Info, department_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SlaAlert, None]:
        info.context.token()
        department = str(department_id) if department_id else await _my_department(info)

        def wants(envelope: Envelope) -> bool:
            return (
                envelope.type in SLA and envelope.data.get("provider_department_id") == department
            )

        async for envelope, row in _feed(info, wants, lambda _: True):
            data = envelope.data
            yield SlaAlert(
                kind=envelope.type.rsplit(".", 1)[1],
                clock=data["clock"],
                due_at=datetime.fromisoformat(data["due_at"]),
                remaining_seconds=data.get("remaining_seconds"),
                at=envelope.time,
                request=ServiceRequest.from_json(row),
            )
