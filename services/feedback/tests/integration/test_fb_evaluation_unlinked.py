"""A campaign answer's event shares no flow ids with the call that wrote it.

The caller's other events name them (a rating names its rater), and one call, or one GraphQL
operation, whose service calls share a trace, gives all its events the same correlation id and
trace. Had the answer's event kept them, matching the ids would put a name on the answer."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from icr.contracts import topics
from icr.feedback.testing import T0, resolved
from icr.kit.testing import bearer, read_keyed, read_topic

pytestmark = pytest.mark.infra

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
FLOW = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "x-correlation-id": "ana-session-1"}


def _ids(record: ConsumerRecord[bytes, bytes]) -> set[Any]:
    envelope = json.loads(record.value)
    headers = {k: v.decode() for k, v in record.headers}
    trace = headers.get("traceparent", "").split("-")
    return {envelope["correlation_id"], envelope["causation_id"], trace[1] if trace[1:] else None}


async def test_an_answers_event_cannot_be_linked_to_the_named_events_of_its_call(
    feedback,
) -> None:
    async with feedback() as fb:
        await fb.send(resolved("r-anon", at=T0 + timedelta(hours=1)))
        await fb.rating("r-anon")
        campaign = {
            "name": "Q4",
            "period_start": T0.isoformat(),
            "period_end": (T0 + timedelta(days=30)).isoformat(),
            "questions": [{"question_id": "q", "kind": "scale", "text": {"en": "Quality?"}}],
        }
        opened = await fb.call("POST", "/campaigns", "root", json=campaign)
        assert opened.status_code == 201, opened.text
        cid = opened.json()["campaign_id"]
        headers = {**bearer("ana"), **FLOW}
        rated = await fb.http.post("/ratings/r-anon", json={"stars": 4}, headers=headers)
        assert rated.status_code == 201, rated.text
        answer = {"provider_department_id": "it", "scores": {"q": 4}}
        answered = await fb.http.post(f"/campaigns/{cid}/evaluations", json=answer, headers=headers)
        assert answered.status_code == 204, answered.text
        bootstrap = fb.settings.kafka_bootstrap_servers
        ratings = await read_keyed(
            bootstrap,
            fb.settings.topic_name(topics.RATINGS.name),
            "r-anon",
            until=lambda found: any(b"rating.submitted" in r.value for r in found),
        )
        [evaluation] = await read_topic(
            bootstrap, fb.settings.topic_name(topics.EVALUATIONS.name), count=1
        )
    [named] = [r for r in ratings if b"rating.submitted" in r.value]
    assert json.loads(named.value)["data"]["rater_id"] == "ana"
    assert {"ana-session-1", TRACE} <= _ids(named)  # what the call's events carry
    assert not (_ids(evaluation) - {None}) & _ids(named)
    assert "ana" not in evaluation.value.decode()
