"""What other systems consume: every request event on Kafka matches its published JSON Schema
and carries the trace of the HTTP call that caused it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import jsonschema
import pytest

from icr.contracts.topics import REQUESTS
from icr.kit.kafka import header
from icr.kit.testing import read_keyed

pytestmark = pytest.mark.infra

SCHEMAS = Path(__file__).resolve().parents[4] / "docs" / "events"


def schema_of(event_type: str, version: int) -> dict:
    return json.loads((SCHEMAS / f"{event_type}.v{version}.json").read_text())


async def test_lifecycle_events_match_their_schemas_and_carry_the_callers_trace(api) -> None:
    trace = secrets.token_hex(16)
    traced = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
    request = await api.post(
        "/requests",
        "ana",
        {"catalog_item_id": "laptop", "title": "Laptop", "form": {"model": "pro"}},
        headers=traced,
        expect=201,
    )
    rid = request.json()["id"]
    steps = [
        ("accept", "bo", None),
        ("comment", "bo", {"body": "Which keyboard layout?"}),
        ("ask", "bo", {"question": "US or German?"}),
        ("reply", "ana", {"message": "German"}),
        ("resolve", "bo", {"note": "Delivered"}),
    ]
    for action, actor, body in steps:
        await api.post(f"/requests/{rid}/{action}", actor, body, headers=traced, expect=200)

    records = await read_keyed(
        api.settings.kafka_bootstrap_servers,
        api.settings.topic_name(REQUESTS.name),
        rid,
        until=lambda found: any(
            header(r.headers, "event_type") == "requests.request.resolved" for r in found
        ),
    )
    types = []
    for record in records:
        envelope = json.loads(record.value)
        jsonschema.validate(envelope, schema_of(envelope["type"], envelope["version"]))
        assert header(record.headers, "event_type") == envelope["type"]
        assert header(record.headers, "event_id") == envelope["event_id"]
        assert (header(record.headers, "traceparent") or "").split("-")[1] == trace
        types.append(envelope["type"])
    assert types[0] == "requests.request.submitted"
    assert {
        "requests.request.accepted",
        "requests.request.commented",
        "requests.request.waiting",
        "requests.request.resumed",
        "requests.request.resolved",
    } <= set(types)


def test_a_payload_missing_a_required_field_fails_its_schema() -> None:
    schema = schema_of("requests.request.submitted", 1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "requests.request.submitted", "version": 1}, schema)
