"""/health/ready names the failing dependency without echoing an exception's text."""

from __future__ import annotations

import asyncio

from icr.kit.health import NotReady, Readiness


async def test_ready_names_what_is_down_and_echoes_no_exception_text() -> None:
    async def ok() -> None:
        return None

    async def leaky() -> None:
        raise ConnectionError("mongodb://admin:hunter2@db.internal:27017 refused")

    async def explained() -> None:
        raise NotReady("still starting")

    async def slow() -> None:
        await asyncio.sleep(10)

    readiness = Readiness(timeout=0.05)
    for name, check in {"a": ok, "store": leaky, "startup": explained, "kafka": slow}.items():
        readiness.add(name, check)
    checks = await readiness.run()
    assert checks == {
        "a": "ok",
        "store": "down",
        "startup": "down: still starting",
        "kafka": "timeout",
    }
