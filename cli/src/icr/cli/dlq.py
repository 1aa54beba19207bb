"""`icr dlq`: dead-lettered events and the aggregates they hold.

A consumer group that gives up on an event sends it to `<group>.dlq` (with `dlq_*` headers) and
*holds* its aggregate (`icr.kit.holds`): later events of that aggregate are parked until an
operator re-drives the event (apply it again, then the parked ones) or skips it. This module
reads the holds and the dead-letter records and asks for a re-drive or skip through the kit's
own functions; the running consumer that owns the partition performs it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from icr.cli.status import partitions
from icr.kit.consumer import dead_letter_topic
from icr.kit.holds import find_holds, parked_count, request_action
from icr.kit.mongo import Document, Mongo
from icr.kit.settings import ServiceSettings

SERVICES = ("requests", "feedback", "incentives")


class DlqError(Exception):
    """Bad input or nothing to act on, with the exit code the command gives."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Held:
    service: str
    doc: Document
    parked: int


async def held(
    services: list[str], *, group: str | None = None, aggregate: str | None = None,
    with_event: bool = False,
) -> list[Held]:  # fmt: skip
    out = []
    for service in services:
        settings = ServiceSettings(service_name=service)
        mongo = Mongo(settings)
        try:
            if settings.database not in await mongo.client.list_database_names():
                continue
            for doc in await find_holds(
                mongo, settings, group=group, aggregate=aggregate, with_event=with_event
            ):
                out.append(Held(service, doc, await parked_count(mongo, doc["_id"])))
        finally:
            await mongo.close()
    return out


async def act(service: str, aggregate: str, action: str, group: str | None) -> list[Held]:
    """Marks the hold of `aggregate` for a re-drive or a skip; refuses when it is held in several
    groups and none is named (a skip drops an event for good)."""
    found = await held([service], group=group, aggregate=aggregate)
    if not found:
        where = f" in group {group!r}" if group else ""
        raise DlqError(f"no hold of aggregate {aggregate!r} in {service}{where}", 1)
    groups = sorted({h.doc["group"] for h in found})
    if len(groups) > 1:
        raise DlqError(
            f"aggregate {aggregate!r} is held in {len(groups)} groups ({', '.join(groups)}); "
            "name one with --group",
            2,
        )
    settings = ServiceSettings(service_name=service)
    mongo = Mongo(settings)
    try:
        for h in found:
            await request_action(mongo, h.doc["_id"], action)
    finally:
        await mongo.close()
    return found


async def dead_letters(group: str, *, limit: int = 50, wait_s: float = 3.0) -> list[Document]:
    """The records on the group's dead-letter topic (oldest first), headers decoded."""
    settings = ServiceSettings(service_name="cli")
    topic = dead_letter_topic(settings.topic_name(group) if not group.startswith(
        settings.kafka_topic_prefix) else group)  # fmt: skip
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        parts = (await partitions(admin, [topic])).get(topic, [])
    finally:
        await admin.close()
    if not parts:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[Document] = []
        while len(out) < limit and await _behind(consumer, parts, ends):
            batch = await consumer.getmany(timeout_ms=int(wait_s * 1000), max_records=limit)
            if not batch:
                break
            for records in batch.values():
                for r in records:
                    out.append(_record(r))
        return out[:limit]
    finally:
        await consumer.stop()


async def _behind(
    consumer: AIOKafkaConsumer, parts: list[TopicPartition], ends: dict[Any, int]
) -> bool:
    for tp in parts:
        if await consumer.position(tp) < ends[tp]:
            return True
    return False


def _record(r: Any) -> Document:
    headers = {k: v.decode(errors="replace") for k, v in (r.headers or ())}
    try:
        value: Any = json.loads(r.value)
    except (TypeError, ValueError):
        value = r.value.decode(errors="replace") if r.value else None
    return {
        "partition": r.partition,
        "offset": r.offset,
        "key": r.key.decode(errors="replace") if r.key else None,
        "headers": {k: v for k, v in headers.items() if k.startswith("dlq_")},
        "event": value,
    }


def event_of(doc: Document) -> Any:
    """The held event's payload, decoded."""
    raw = (doc.get("event") or {}).get("value")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return bytes(raw).decode(errors="replace")
