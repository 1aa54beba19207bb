"""Held aggregates: an aggregate whose event could not be applied waits for an operator.

When a consumer group dead-letters an event (or meets a version it does not know yet), applying
that aggregate's later events would build a projection on a missing step. So the aggregate is
*held*: the failed event is stored with the hold, later events of the aggregate are *parked*
(stored in partition order) instead of applied, and the partition keeps flowing for every other
aggregate. An operator then re-drives the hold (apply the failed event again, then the parked
ones in order) or skips it (drop the failed event, apply the parked ones):

    uv run python -m icr.kit.holds list   --service feedback [--group G] [--aggregate A]
    uv run python -m icr.kit.holds redrive --service feedback --aggregate A [--group G]
    uv run python -m icr.kit.holds skip    --service feedback --aggregate A [--group G]

Exit codes: 0 done, 1 no hold matches, 2 bad input (unknown service database, missing
--aggregate, an aggregate held in several groups without --group), 3 store unreachable.

The command only marks the hold; the running consumer that owns the aggregate's partition
performs the action in its own loop (so the aggregate's order is kept) and releases the hold.
The store is the truth; each consumer keeps the holds of its partitions in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from icr.kit.mongo import Document, Mongo
from icr.kit.settings import ServiceSettings

HOLDS_COLLECTION = "consumer_holds"
PARKED_COLLECTION = "consumer_parked"
HOLD_INDEXES = [IndexModel([("group", ASCENDING), ("action", ASCENDING)], name="group_action")]
PARKED_INDEXES = [IndexModel([("hold", ASCENDING), ("offset", ASCENDING)], name="hold_offset")]

ACTIONS = ("redrive", "skip")
DEAD_LETTERED = "dead_lettered"
UNKNOWN_VERSION = "unknown_version"


@dataclass(frozen=True)
class Delivery:
    """One Kafka record as the consumer needs it, whether just polled or read back from a hold."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def to_doc(self) -> Document:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "headers": [[k, v] for k, v in self.headers],
        }

    @classmethod
    def from_doc(cls, doc: Document) -> Delivery:
        return cls(
            topic=doc["topic"],
            partition=doc["partition"],
            offset=doc["offset"],
            key=doc.get("key"),
            value=doc["value"],
            headers=tuple((k, v) for k, v in doc.get("headers", [])),
        )


def hold_id(group: str, topic: str, aggregate_id: str) -> str:
    return f"{group}|{topic}|{aggregate_id}"


class Holds:
    """The store of one consumer group's holds and parked events."""

    def __init__(
        self, holds: AsyncCollection[Document], parked: AsyncCollection[Document], group: str
    ) -> None:
        self.holds = holds
        self.parked = parked
        self.group = group

    async def of_partitions(self, owned: set[tuple[str, int]]) -> list[Document]:
        docs = [d async for d in self.holds.find({"group": self.group}, {"event.value": 0})]
        return [d for d in docs if (d["topic"], d["partition"]) in owned]

    async def requested(self) -> list[Document]:
        return [
            d
            async for d in self.holds.find(
                {"group": self.group, "action": {"$in": list(ACTIONS)}}, {"_id": 1}
            )
        ]

    async def get(self, key: str) -> Document | None:
        return await self.holds.find_one({"_id": key})

    async def hold(
        self,
        delivery: Delivery,
        *,
        aggregate_id: str,
        event_id: str,
        event_type: str,
        version: int,
        sequence: int | None,
        reason: str,
        error: str,
    ) -> str:
        """Holds the aggregate on this event (replacing the event of an existing hold)."""
        key = hold_id(self.group, delivery.topic, aggregate_id)
        await self.holds.update_one(
            {"_id": key},
            {
                "$set": {
                    "group": self.group,
                    "topic": delivery.topic,
                    "partition": delivery.partition,
                    "aggregate_id": aggregate_id,
                    "reason": reason,
                    "error": error[:2000],
                    "event_id": event_id,
                    "event_type": event_type,
                    "version": version,
                    "sequence": sequence,
                    "event": delivery.to_doc(),
                    "head_done": False,
                    "dlq_sent": False,
                    "action": None,
                    "at": datetime.now(UTC),
                }
            },
            upsert=True,
        )
        return key

    async def mark(self, key: str, **fields: Any) -> None:
        await self.holds.update_one({"_id": key}, {"$set": fields})

    async def release(self, key: str) -> None:
        await self.holds.delete_one({"_id": key})

    async def park(self, key: str, delivery: Delivery) -> None:
        # The record's position is its identity: a redelivered record parks once.
        with contextlib.suppress(DuplicateKeyError):
            await self.parked.insert_one(
                {
                    "_id": f"{key}|{delivery.partition}|{delivery.offset}",
                    "hold": key,
                    **delivery.to_doc(),
                    "at": datetime.now(UTC),
                }
            )

    async def next_parked(self, key: str) -> Document | None:
        cursor = self.parked.find({"hold": key}).sort("offset", ASCENDING).limit(1)
        async for doc in cursor:
            return doc
        return None

    async def unpark(self, parked_id: str) -> None:
        await self.parked.delete_one({"_id": parked_id})


# The operator command.


def _filter(settings: ServiceSettings, group: str | None, aggregate: str | None) -> Document:
    query: Document = {}
    if group:
        query["group"] = {"$in": [group, settings.topic_name(group)]}
    if aggregate:
        query["aggregate_id"] = aggregate
    return query


async def find_holds(
    mongo: Mongo,
    settings: ServiceSettings,
    *,
    group: str | None = None,
    aggregate: str | None = None,
    with_event: bool = False,
) -> list[Document]:
    """The service's holds (of a group, an aggregate), without the stored event unless asked."""
    projection = None if with_event else {"event": 0}
    query = _filter(settings, group, aggregate)
    return [d async for d in mongo.collection(HOLDS_COLLECTION).find(query, projection)]


async def parked_count(mongo: Mongo, key: str) -> int:
    return await mongo.collection(PARKED_COLLECTION).count_documents({"hold": key})


async def request_action(mongo: Mongo, key: str, action: str) -> None:
    """Asks the consumer that owns the hold's partition to re-drive or skip it."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    await mongo.collection(HOLDS_COLLECTION).update_one(
        {"_id": key}, {"$set": {"action": action, "requested_at": datetime.now(UTC)}}
    )


async def _command(args: argparse.Namespace, out: Any) -> int:
    settings = ServiceSettings(service_name=args.service)
    mongo = Mongo(settings)
    try:
        return await _act(args, settings, mongo, out)
    except PyMongoError as exc:
        print(
            f"error: the store of {args.service!r} (database {settings.database!r}) cannot be "
            f"reached: {type(exc).__name__}",
            file=sys.stderr,
        )
        return 3
    finally:
        await mongo.close()


async def _act(args: argparse.Namespace, settings: ServiceSettings, mongo: Mongo, out: Any) -> int:
    if args.command != "list" and not args.aggregate:
        print(f"error: {args.command} needs --aggregate", file=sys.stderr)
        return 2
    if settings.database not in await mongo.client.list_database_names():
        # A misspelt service or a missing MONGO_DB would otherwise list "0 hold(s)".
        print(
            f"error: no database {settings.database!r} for service {args.service!r}; check "
            "--service and MONGO_DB / MONGO_DB_PREFIX",
            file=sys.stderr,
        )
        return 2
    docs = await find_holds(mongo, settings, group=args.group, aggregate=args.aggregate)
    if args.command == "list":
        for d in docs:
            count = await parked_count(mongo, d["_id"])
            print(
                f"{d['group']}  {d['aggregate_id']}  reason={d['reason']}  "
                f"event={d['event_type']} v{d['version']} seq={d.get('sequence')} "
                f"id={d['event_id']}  parked={count}  action={d.get('action') or '-'}  "
                f"error={d.get('error', '')[:200]}",
                file=out,
            )
        print(f"{len(docs)} hold(s)", file=out)
        if not docs and args.group:
            # A misspelt group lists nothing, like a group without holds: say which have some.
            groups = sorted(await mongo.collection(HOLDS_COLLECTION).distinct("group"))
            print(f"note: groups with holds: {', '.join(groups) or 'none'}", file=sys.stderr)
        return 0
    if not docs:
        where = f" in group {args.group!r}" if args.group else ""
        print(f"error: no hold of aggregate {args.aggregate!r}{where}", file=sys.stderr)
        return 1
    groups = sorted({d["group"] for d in docs})
    if len(groups) > 1:
        # A skip drops the event for good: never for groups the operator did not name.
        print(
            f"error: aggregate {args.aggregate!r} is held in {len(groups)} groups "
            f"({', '.join(groups)}); name one with --group",
            file=sys.stderr,
        )
        return 2
    for d in docs:
        await request_action(mongo, d["_id"], args.command)
        print(f"{args.command} requested for {d['group']} {d['aggregate_id']}", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m icr.kit.holds",
        description="List held aggregates of a service's consumer groups, or re-drive or skip "
        "one; settings (MONGO_URL, MONGO_DB, KAFKA_TOPIC_PREFIX, ...) come from the environment.",
    )
    parser.add_argument("command", choices=["list", *ACTIONS])
    parser.add_argument("--service", required=True, help="service name, e.g. feedback")
    parser.add_argument("--group", help="consumer group (with or without the topic prefix)")
    parser.add_argument("--aggregate", help="aggregate id")
    return asyncio.run(_command(parser.parse_args(argv), sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
