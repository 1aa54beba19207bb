"""Directory value objects and the requests service's event contracts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from icr.contracts import Envelope, registry
from icr.contracts import requests as contracts
from icr.contracts.topics import CATALOG, DIRECTORY, REQUESTS
from icr.requests.domain import (
    BusinessCalendar,
    Department,
    InvalidInput,
    Person,
    Role,
    check_hierarchy,
)

AT = datetime(2024, 6, 3, 9, tzinfo=UTC)
CAL = BusinessCalendar.standard("Asia/Shanghai")

EXPECTED = {
    "requests.department.upserted": (DIRECTORY, "department_id"),
    "requests.person.upserted": (DIRECTORY, "person_id"),
    "requests.catalog_item.published": (CATALOG, "catalog_item_id"),
    **{
        f"requests.request.{name}": (REQUESTS, "request_id")
        for name in (
            "submitted",
            "accepted",
            "assigned",
            "status_changed",
            "commented",
            "waiting",
            "resumed",
            "resolved",
            "closed",
            "reopened",
            "rejected",
            "cancelled",
        )
    },
    "requests.sla.warning": (REQUESTS, "request_id"),
    "requests.sla.breached": (REQUESTS, "request_id"),
}


def test_every_requests_event_is_registered_with_topic_and_key() -> None:
    for event_type, (topic, key) in EXPECTED.items():
        cls = registry.latest(event_type)
        assert (cls.topic, cls.aggregate_field, cls.event_version) == (topic, key, 1)
        assert cls.__module__ == contracts.__name__
        assert key in cls.model_json_schema()["properties"]


def test_submitted_events_from_before_the_due_times_still_parse() -> None:
    old = Envelope(
        type="requests.request.submitted",
        version=1,
        source="requests",
        aggregate_id="req-1",
        data={
            "request_id": "req-1",
            "title": "Laptop",
            "catalog_item_id": "laptop",
            "catalog_item_version": 1,
            "requester_id": "ana",
            "requester_department_id": "sales",
            "provider_department_id": "it",
            "priority": "medium",
            "submitted_at": AT.isoformat(),
        },
    )
    event = registry.parse(old)
    assert isinstance(event, contracts.RequestSubmitted)
    assert event.first_response_due_at is None
    assert event.parent_request_id is None


def test_department_and_person_events() -> None:
    dept = Department("it", {"zh-CN": "信息技术部", "en": "IT"}, CAL, manager_id="ivy")
    event = dept.upserted_event(AT)
    assert (event.aggregate_id(), event.time_zone, event.name["zh-CN"]) == (
        "it",
        "Asia/Shanghai",
        "信息技术部",
    )
    person = Person("bo", "Bo", "it", frozenset({"agent", "employee"}), locale="zh-CN")  # type: ignore[arg-type]
    assert person.roles == {Role.AGENT, Role.EMPLOYEE}
    assert person.upserted_event(AT).roles == ["agent", "employee"]
    assert Person("ana", "Ana", "sales").roles == {Role.EMPLOYEE}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Person("x", "X", "it", locale="fr"), "locale"),
        (lambda: Person("x", "X", "it", frozenset({"boss"})), "boss"),  # type: ignore[arg-type]
        (lambda: Person("", "X", "it"), "id and a name"),
        (lambda: Department("it", {"en": " "}, CAL), "needs a name"),
        (lambda: Department("it", {"en": "IT"}, CAL, parent_id="it"), "own parent"),
    ],
)
def test_invalid_directory_entries(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_hierarchy_must_be_a_tree_of_known_departments() -> None:
    def dept(id_: str, parent: str | None) -> Department:
        return Department(id_, {"en": id_}, CAL, parent_id=parent)

    check_hierarchy([dept("hq", None), dept("it", "hq"), dept("desk", "it")])
    with pytest.raises(InvalidInput, match="unknown parent"):
        check_hierarchy([dept("it", "hq")])
    with pytest.raises(InvalidInput, match="cycle"):
        check_hierarchy([dept("a", "b"), dept("b", "c"), dept("c", "a")])
