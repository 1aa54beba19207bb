"""`icr dlq` and `icr status` on the real store and broker: a held aggregate and its dead-letter
record, listed, shown, re-driven; the counts in the status."""

from __future__ import annotations

import asyncio
import json
import secrets

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from icr.cli import main
from icr.cli.main import app
from icr.kit.holds import HOLDS_COLLECTION, PARKED_COLLECTION, Delivery, Holds
from icr.kit.kafka import ensure_topics
from icr.kit.mongo import Mongo
from icr.kit.settings import ServiceSettings
from icr.kit.testing import service_settings_for_test

pytestmark = pytest.mark.infra
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough that no cell is cut (the console is created at import)."""
    monkeypatch.setattr(main.out, "width", 250)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """A feedback hold on aggregate `r-1` with one parked event, and its dead-letter record."""
    run = secrets.token_hex(3)
    base = service_settings_for_test()
    monkeypatch.setenv("MONGO_URL", base.mongo_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", base.kafka_bootstrap_servers)
    monkeypatch.setenv("MONGO_DB_PREFIX", f"cli{run}_")
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", f"cli{run}.")
    monkeypatch.delenv("MONGO_DB", raising=False)
    settings = ServiceSettings(service_name="feedback")
    group = settings.topic_name("icr.feedback")
    event = {"event_id": "e-1", "type": "requests.request.resolved", "aggregate_id": "r-1"}
    delivery = Delivery(
        topic=settings.topic_name("icr.requests.request"), partition=0, offset=7,
        key=b"r-1", value=json.dumps(event).encode(),
    )  # fmt: skip

    async def make() -> None:
        mongo = Mongo(settings)
        holds = Holds(
            mongo.collection(HOLDS_COLLECTION), mongo.collection(PARKED_COLLECTION), group
        )
        key = await holds.hold(
            delivery, aggregate_id="r-1", event_id="e-1", event_type=event["type"], version=1,
            sequence=3, reason="dead_lettered", error="ValueError: the handler broke",
        )  # fmt: skip
        await holds.park(key, Delivery(delivery.topic, 0, 8, b"r-1", b"{}"))
        await mongo.close()
        # The dead-letter topic as a consumer creates it (one partition, kept).
        await ensure_topics(settings, [], extra=["icr.feedback.dlq"])
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{group}.dlq", value=delivery.value, key=b"r-1",
                headers=[("dlq_error", b"ValueError: the handler broke"),
                         ("dlq_group", group.encode())],
            )  # fmt: skip
        finally:
            await producer.stop()

    asyncio.run(make())
    return settings


def test_a_held_aggregate_is_listed_shown_and_redriven(held: ServiceSettings) -> None:
    listed = runner.invoke(app, ["dlq", "list", "--service", "feedback"])
    assert listed.exit_code == 0, listed.output
    assert "r-1" in listed.output
    assert "dead_lettered" in listed.output
    assert "1 hold(s)" in listed.output

    shown = runner.invoke(app, ["dlq", "show", "r-1", "--service", "feedback"])
    assert shown.exit_code == 0, shown.output
    assert "the handler broke" in shown.output
    assert '"parked": 1' in shown.output
    assert "1 record(s)" in shown.output  # the dead-letter topic's record, with its headers
    assert "dlq_error" in shown.output

    missing = runner.invoke(app, ["dlq", "redrive", "r-2", "--service", "feedback"])
    assert missing.exit_code == 1
    assert "no hold of aggregate 'r-2'" in missing.output

    done = runner.invoke(app, ["dlq", "redrive", "r-1", "--service", "feedback"])
    assert done.exit_code == 0, done.output

    async def action() -> str | None:
        mongo = Mongo(held)
        doc = await mongo.collection(HOLDS_COLLECTION).find_one({"aggregate_id": "r-1"})
        await mongo.close()
        assert doc is not None
        return doc.get("action")

    assert asyncio.run(action()) == "redrive"


def test_status_counts_the_hold_and_the_dead_letter(
    held: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICR_GATEWAY_URL", "http://127.0.0.1:9")  # no apps: reported as down
    for name in ("REQUESTS_URL", "FEEDBACK_URL", "INCENTIVES_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 1  # the apps are down
    status = json.loads(result.output)
    components = {c["name"]: c["ok"] for c in status["components"]}
    assert components["kafka"] is True
    assert components["store"] is True
    assert components["gateway"] is False
    assert {"service": "feedback", "held": 1} in status["holds"]
    dlq = held.topic_name("icr.feedback") + ".dlq"
    assert {"topic": dlq, "records": 1} in status["dead_letters"]
