"""Points subscriptions (graphql-transport-ws), fed by the gateway's Kafka hub: points awarded
to (or revoked from) me, and leaderboard changes.

As for requests (icr.gateway.live), every event is checked with the subscriber's own token
before it is sent, by reading from the incentives service as the subscriber: their account
(`/accounts/me`: only the subscriber's own entries are ever offered, and the read is the
balance as it is now) or the leaderboard (`/leaderboards/...`, which anyone in the
organisation may read, and which is the update's payload). A token the service no longer
accepts ends the subscription; a subscriber that falls behind is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime

import strawberry
from graphql import GraphQLError

from icr.contracts import Envelope
from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.hub import Hub, SlowSubscriber
from icr.gateway.incentives import (
    Board,
    EntryKind,
    Leaderboard,
    LedgerEntry,
    PeriodSpan,
    PointsAccount,
    period_label,
)

Info = strawberry.Info[Context, None]
AWARDED = "incentives.points.awarded"
REVOKED = "incentives.points.revoked"
BOARD_CHANGED = "incentives.leaderboard.changed"
TOO_MANY = "TOO_MANY_SUBSCRIPTIONS"
SLOW = "SUBSCRIBER_TOO_SLOW"


@strawberry.type(description="Points entered the subscriber's ledger (or were taken back).")
class PointsUpdate:
    event_type: str = strawberry.field(description="incentives.points.awarded or .revoked")
    at: datetime
    entry: LedgerEntry
    account: PointsAccount = strawberry.field(
        description="The subscriber's account as read when the event arrived."
    )


@strawberry.type(description="An entry moved leaderboard lines; the board as it is now.")
class LeaderboardUpdate:
    at: datetime
    points: int = strawberry.field(description="How much the lines moved (negative: revoked).")
    subject_ids: list[strawberry.ID] = strawberry.field(
        description="The people or departments of this board whose lines moved."
    )
    leaderboard: Leaderboard


def _entry(envelope: Envelope) -> LedgerEntry:
    data = envelope.data
    if envelope.type == REVOKED:
        kind = EntryKind.REVOKE
    elif data.get("rule_id") == "recognition":
        kind = EntryKind.RECOGNITION
    else:
        kind = EntryKind.AWARD
    return LedgerEntry.from_json({**data, "id": data["entry_id"], "kind": kind.value})


async def _as_subscriber(info: Info, path: str, **params: object) -> Json:
    """A read with the subscriber's token: the per-event authorization and the payload."""
    try:
        row: Json = await info.context.clients.incentives.call(
            "GET", path, token=info.context.token(), params=params or None
        )
    except UpstreamError as error:
        if error.status in (401, 403):  # the token expired, or the service says no more
            raise GraphQLError(
                "the service no longer accepts this subscriber: " + error.message,
                extensions={"code": "UNAUTHENTICATED" if error.status == 401 else "FORBIDDEN"},
            ) from error
        raise
    return row


async def _events(info: Info, wants: Callable[[Envelope], bool]) -> AsyncGenerator[Envelope, None]:
    context = info.context
    limit = context.clients.settings.max_subscriptions_per_connection
    if context.subscriptions >= limit:
        raise GraphQLError(
            f"at most {limit} subscriptions per connection", extensions={"code": TOO_MANY}
        )
    context.token()  # UNAUTHENTICATED before anything is subscribed
    hub: Hub = context.clients.hub
    subscriber = await hub.subscribe(wants)
    context.subscriptions += 1
    try:
        while True:
            try:
                envelope = await subscriber.next()
            except SlowSubscriber as exc:
                raise GraphQLError(str(exc), extensions={"code": SLOW}) from exc
            context.fresh_loaders()
            yield envelope
    finally:
        hub.unsubscribe(subscriber)
        context.subscriptions -= 1


@strawberry.type
class IncentivesSubscription:
    @strawberry.subscription(description="Points awarded to the caller, or taken back.")
    async def my_points(self, info: Info) -> AsyncGenerator[PointsUpdate, None]:
        info.context.token()
        assert info.context.identity is not None
        me = info.context.identity.subject

        def wants(envelope: Envelope) -> bool:
            return envelope.type in (AWARDED, REVOKED) and envelope.data.get("account") == me

        async for envelope in _events(info, wants):
            account = await _as_subscriber(info, "/accounts/me")
            if account.get("account") != me:
                continue  # never another account's entry, whatever the event says
            yield PointsUpdate(
                event_type=envelope.type,
                at=envelope.time,
                entry=_entry(envelope),
                account=PointsAccount.from_json(account),
            )

    @strawberry.subscription(
        description="Changes to a leaderboard of the current period (people this month by "
        "default), each with the board's top `first` lines as they are now."
    )
    async def leaderboard_changed(
        self,
        info: Info,
        board: Board = Board.PEOPLE,
        span: PeriodSpan = PeriodSpan.MONTH,
        first: int = 10,
    ) -> AsyncGenerator[LeaderboardUpdate, None]:
        largest = info.context.clients.settings.max_page_size
        if not 1 <= first <= largest:
            raise GraphQLError(
                f"first must be 1 to {largest}", extensions={"code": "BAD_USER_INPUT"}
            )

        def moved(envelope: Envelope) -> list[str]:
            # The period of the entry's own time: a month's board moves with the month's entries.
            at = datetime.fromisoformat(envelope.data["changed_at"]).astimezone(UTC)
            period = period_label(span, at)
            return [
                line["subject_id"]
                for line in envelope.data.get("lines", [])
                if line.get("board") == board.value and line.get("period") == period
            ]

        def wants(envelope: Envelope) -> bool:
            return envelope.type == BOARD_CHANGED and bool(moved(envelope))

        async for envelope in _events(info, wants):
            subjects = moved(envelope)
            period = period_label(span, datetime.fromisoformat(envelope.data["changed_at"]))
            row = await _as_subscriber(
                info, f"/leaderboards/{segment(board.value)}", period=period, limit=first
            )
            yield LeaderboardUpdate(
                at=envelope.time,
                points=int(envelope.data["points"]),
                subject_ids=[strawberry.ID(s) for s in subjects],
                leaderboard=Leaderboard.from_json(row),
            )
