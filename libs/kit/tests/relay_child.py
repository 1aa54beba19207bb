"""A relay process for the crash test (test_kit_relay_leases.py): writes 4 things with 5 events
each in 3 writes, publishes 6 events, then hangs on the 7th send while it holds (and renews) its
leases, and says "holding" so the test can SIGKILL it. Settings come from the environment."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from aiokafka import AIOKafkaProducer

from icr.contracts import Event
from icr.contracts.topics import Topic
from icr.kit.kafka import build_producer
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox, Relay
from icr.kit.settings import ServiceSettings

TOPIC = Topic("kit.test.relay", partitions=3, owner="kit")
FREE = 6


class Stepped(Event):
    event_type: ClassVar[str] = "kit.relay.stepped"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "thing_id"

    thing_id: str
    step: int


class Hanging:
    def __init__(self, inner: AIOKafkaProducer) -> None:
        self.inner = inner
        self.acked = 0

    async def send(self, topic: str, **kw: Any) -> Any:
        if self.acked >= FREE:
            print("holding", flush=True)
            await asyncio.Event().wait()
        await (await self.inner.send(topic, **kw))
        self.acked += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def main() -> None:
    settings = ServiceSettings()
    mongo = Mongo(settings)
    things = mongo.collection("things")
    outbox = Outbox(settings, ["things"])
    for t in range(4):
        thing = f"thing-{t}"
        await outbox.insert(
            things, {"_id": thing}, [Stepped(thing_id=thing, step=s) for s in (0, 1)]
        )
        await outbox.update(things, thing, 1, {}, [Stepped(thing_id=thing, step=s) for s in (2, 3)])
        await outbox.update(things, thing, 2, {}, [Stepped(thing_id=thing, step=4)])
    producer = build_producer(settings)
    await producer.start()
    relay = Relay(settings, [things], cast(AIOKafkaProducer, Hanging(producer)), outbox)
    await relay.run()


if __name__ == "__main__":
    asyncio.run(main())
