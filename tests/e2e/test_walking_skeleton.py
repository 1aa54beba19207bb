"""One request through every part: gateway -> requests -> Kafka -> feedback and incentives."""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any

import httpx
import pytest

from icr.contracts import topics
from icr.kit.kafka import header
from icr.kit.testing import bearer, read_keyed

from .conftest import ADMIN, Platform

pytestmark = pytest.mark.e2e

SUBMIT = """
mutation Submit($input: SubmitRequestInput!) {
  submitRequest(input: $input) {
    __typename
    ... on ServiceRequest {
      id status providerDepartment { id } requester { id } resolutionDueAt
    }
    ... on InvalidInput { message fields { field message } }
    ... on NotFound { message }
  }
}
"""

READ = """
query Read($id: ID!) {
  request(id: $id) {
    id title status requester { id }
    rating { status raterId }
    incentives { status }
  }
}
"""


def seed(platform: Platform) -> None:
    admin = bearer(ADMIN)
    week = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
    calls = [
        (
            "PUT",
            "/departments/it",
            {
                "name": {"en": "IT", "zh-CN": "信息技术部"},
                "calendar": {"timezone": "Asia/Shanghai", "week": week},
            },
        ),
        (
            "PUT",
            "/departments/sales",
            {
                "name": {"en": "Sales", "zh-CN": "销售部"},
                "calendar": {"timezone": "Asia/Shanghai", "week": week},
            },
        ),
        ("PUT", "/people/ana", {"name": "Ana", "department_id": "sales", "roles": ["employee"]}),
        ("PUT", "/people/bo", {"name": "Bo", "department_id": "it", "roles": ["agent"]}),
        (
            "PUT",
            "/catalog/items/laptop",
            {
                "provider_department_id": "it",
                "name": {"en": "New laptop", "zh-CN": "新笔记本电脑"},
                "owning_team": "it-desk",
                "fields": [
                    {
                        "type": "choice",
                        "name": "model",
                        "required": True,
                        "options": ["standard", "pro"],
                    }
                ],
                "targets": {
                    p: {"first_response_minutes": 60, "resolution_minutes": 960}
                    for p in ("low", "medium", "high", "critical")
                },
            },
        ),
    ]
    with httpx.Client(base_url=platform.requests, headers=admin, timeout=10) as http:
        for method, path, body in calls:
            response = http.request(method, path, json=body)
            assert response.status_code in (200, 201), (path, response.text)


def test_submitted_request_is_seen_by_all_three_services(platform: Platform) -> None:
    seed(platform)
    submitted = platform.graphql(
        SUBMIT,
        {"input": {"catalogItemId": "laptop", "title": "Laptop for Ana", "form": {"model": "pro"}}},
        actor="ana",
    )["submitRequest"]
    assert submitted["__typename"] == "ServiceRequest", submitted
    assert submitted["providerDepartment"] == {"id": "it"}
    assert submitted["resolutionDueAt"] is not None

    deadline = time.monotonic() + 30
    while True:
        request = platform.graphql(READ, {"id": submitted["id"]}, actor="ana")["request"]
        if request["incentives"]:
            break
        assert time.monotonic() < deadline, f"the event did not reach incentives: {request}"
        time.sleep(0.2)
    assert request["status"] == "SUBMITTED"
    assert request["rating"] is None  # feedback invites on resolution, not on submission
    assert request["incentives"] == {"status": "submitted"}

    resolve(platform, submitted["id"])
    while True:
        request = platform.graphql(READ, {"id": submitted["id"]}, actor="ana")["request"]
        if request["rating"]:
            break
        assert time.monotonic() < deadline + 30, f"no rating invitation: {request}"
        time.sleep(0.2)
    assert request["rating"] == {"status": "INVITED", "raterId": "ana"}


def resolve(platform: Platform, request_id: str, headers: dict[str, str] | None = None) -> None:
    """Bo (IT) accepts, starts and resolves the request through the requests service."""
    sent = {**bearer("bo"), **(headers or {})}
    with httpx.Client(base_url=platform.requests, headers=sent, timeout=10) as http:
        for action, body in (("accept", None), ("start", None), ("resolve", {"note": "done"})):
            response = http.post(f"/requests/{request_id}/{action}", json=body)
            assert response.status_code == 200, (action, response.text)


def test_invalid_form_comes_back_as_typed_field_errors(platform: Platform) -> None:
    seed(platform)
    result = platform.graphql(
        SUBMIT,
        {"input": {"catalogItemId": "laptop", "title": "", "form": {"model": "gold"}}},
        actor="ana",
    )["submitRequest"]
    assert result["__typename"] == "InvalidInput"
    assert {f["field"] for f in result["fields"]} == {"title", "model"}


def test_unknown_catalog_item_is_not_found(platform: Platform) -> None:
    seed(platform)
    result = platform.graphql(
        SUBMIT, {"input": {"catalogItemId": "nope", "title": "x", "form": {}}}, actor="ana"
    )["submitRequest"]
    assert result["__typename"] == "NotFound"


def test_requester_of_another_department_cannot_read_the_request(platform: Platform) -> None:
    seed(platform)
    submitted = platform.graphql(
        SUBMIT,
        {"input": {"catalogItemId": "laptop", "title": "Private", "form": {"model": "standard"}}},
        actor="ana",
    )["submitRequest"]
    assert platform.graphql(READ, {"id": submitted["id"]}, actor="bo")["request"] is not None
    with httpx.Client(base_url=platform.requests, headers=bearer(ADMIN)) as http:
        http.put("/people/cy", json={"name": "Cy", "department_id": "sales", "roles": ["employee"]})
    assert platform.graphql(READ, {"id": submitted["id"]}, actor="cy")["request"] is None


async def _records_with_key(bootstrap: str, topic: str, key: str) -> list:
    return await read_keyed(bootstrap, topic, key, until=bool, timeout=30)


async def _resolved(bootstrap: str, topic: str, key: str) -> Any:
    """The request's `requests.request.resolved` record."""

    def found(records: list) -> bool:
        return any(json.loads(r.value)["type"] == "requests.request.resolved" for r in records)

    records = await read_keyed(bootstrap, topic, key, until=found, timeout=30)
    return next(r for r in records if json.loads(r.value)["type"] == "requests.request.resolved")


async def test_one_trace_spans_gateway_requests_kafka_and_feedback(platform: Platform) -> None:
    seed(platform)
    trace = secrets.token_hex(16)
    submitted = platform.graphql(
        SUBMIT,
        {"input": {"catalogItemId": "laptop", "title": "Traced", "form": {"model": "pro"}}},
        actor="ana",
        traceparent=f"00-{trace}-{secrets.token_hex(8)}-01",
    )["submitRequest"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    rid = submitted["id"]

    # The resolution carries the same trace: the rating invitation it causes must too.
    resolve(platform, rid, {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"})
    cause = await _resolved(bootstrap, platform.topic_prefix + topics.REQUESTS.name, rid)
    [rating] = await _records_with_key(bootstrap, platform.topic_prefix + topics.RATINGS.name, rid)

    for record in (cause, rating):  # the trace, through HTTP, Kafka and a consumer
        assert (header(record.headers, "traceparent") or "").split("-")[1] == trace
    resolved_event, rating_event = json.loads(cause.value), json.loads(rating.value)
    assert rating_event["causation_id"] == resolved_event["event_id"]
    assert rating_event["correlation_id"] == resolved_event["correlation_id"] == trace


async def test_a_callers_correlation_id_follows_the_flow(platform: Platform) -> None:
    seed(platform)
    correlation = f"order-{secrets.token_hex(4)}"
    submitted = platform.graphql(
        SUBMIT,
        {"input": {"catalogItemId": "laptop", "title": "Correlated", "form": {"model": "pro"}}},
        actor="ana",
        correlation_id=correlation,
    )["submitRequest"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    rid = submitted["id"]
    [cause] = await _records_with_key(bootstrap, platform.topic_prefix + topics.REQUESTS.name, rid)
    assert json.loads(cause.value)["correlation_id"] == correlation
    resolve(platform, rid, {"x-correlation-id": correlation})
    [rating] = await _records_with_key(bootstrap, platform.topic_prefix + topics.RATINGS.name, rid)
    assert json.loads(rating.value)["correlation_id"] == correlation
