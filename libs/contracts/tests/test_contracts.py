"""Event contracts: envelopes round-trip, schemas are published and match the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icr.contracts import ALL_TOPICS, Envelope, registry
from icr.contracts.export import render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events"


def test_every_event_names_a_known_topic_and_key_field() -> None:
    names = {t.name for t in ALL_TOPICS}
    for cls in registry.classes():
        assert cls.topic.name in names, cls
        assert cls.aggregate_field in cls.model_fields, cls


def test_event_types_are_unique_per_version() -> None:
    keys = [(c.event_type, c.event_version) for c in registry.classes()]
    assert len(keys) == len(set(keys))


def test_committed_json_schemas_match_the_code() -> None:
    files = render()
    committed = {p.name: p.read_text() for p in DOCS.glob("*.json")}
    assert committed == files, "event schemas drifted: run `make schemas` and commit docs/events"


@pytest.mark.parametrize("name", sorted(render()))
def test_schema_is_valid_json_with_typed_data(name: str) -> None:
    schema = json.loads(render()[name])
    assert schema["properties"]["data"]["type"] == "object"
    # event_id and time have defaults on the producer side; everything else must be sent.
    assert {"type", "version", "source", "aggregate_id", "data"} <= set(schema["required"])
    assert schema["x-kafka-topic"].startswith("icr.")


def test_unknown_event_type_is_refused() -> None:
    envelope = Envelope(type="nobody.knows", version=1, source="x", aggregate_id="a", data={})
    with pytest.raises(LookupError):
        registry.parse(envelope)


def test_old_version_is_upcast_to_the_newest() -> None:
    from typing import ClassVar

    from icr.contracts import Event, Registry
    from icr.contracts.topics import REQUESTS, Topic

    class NoteV1(Event):
        event_type: ClassVar[str] = "test.note"
        topic: ClassVar[Topic] = REQUESTS
        aggregate_field: ClassVar[str] = "note_id"
        note_id: str
        text: str

    class NoteV2(NoteV1):
        event_version: ClassVar[int] = 2
        text_en: str

    local = Registry()
    local.register(NoteV1, NoteV2)

    @local.upcaster("test.note", 1)
    def rename(data: dict[str, object]) -> dict[str, object]:
        return {**data, "text_en": data["text"]}

    old = Envelope.wrap(NoteV1(note_id="n", text="hi"), source="t")
    parsed = local.parse(old)
    assert isinstance(parsed, NoteV2)
    assert parsed.text_en == "hi"
