"""Builders shared by the requests domain unit tests (fixtures, since test modules are not
importable under --import-mode=importlib)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.requests.domain import (
    BusinessCalendar,
    CatalogItem,
    ChoiceField,
    Priority,
    ServiceRequest,
    Status,
    Targets,
    TextField,
)

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)  # a Monday
IT, SALES = "dept-it", "dept-sales"
ANA, BO, CY = "ana", "bo", "cy"  # requester (Sales), IT agent, IT agent


def targets(first_hours: float = 4, resolution_hours: float = 40) -> Targets:
    return Targets(timedelta(hours=first_hours), timedelta(hours=resolution_hours))


def build_item(**overrides: Any) -> CatalogItem:
    values: dict[str, Any] = {
        "id": "laptop",
        "version": 1,
        "provider_department_id": IT,
        "name": {"zh-CN": "新笔记本电脑", "en": "New laptop"},
        "owning_team": "it-desk",
        "targets": {p: targets() for p in Priority},
        "fields": (
            TextField(name="reason", required=True, min_length=3, max_length=200),
            ChoiceField(name="model", options=("air", "pro"), required=True),
        ),
        "published_at": T0 - timedelta(days=30),
    }
    values.update(overrides)
    return CatalogItem(**values)


# The shortest path of actions that brings a fresh request into each status.
PATHS: dict[Status, list[str]] = {
    Status.SUBMITTED: [],
    Status.ACCEPTED: ["accept"],
    Status.IN_PROGRESS: ["accept", "start"],
    Status.WAITING_ON_REQUESTER: ["accept", "start", "ask"],
    Status.RESOLVED: ["accept", "start", "resolve"],
    Status.CLOSED: ["accept", "start", "resolve", "close"],
    Status.REJECTED: ["reject"],
    Status.CANCELLED: ["cancel"],
}


def advance(request: ServiceRequest, step: str, at: datetime) -> None:
    match step:
        case "accept":
            request.accept(by=BO, at=at)
        case "start":
            request.start_work(by=BO, at=at)
        case "ask":
            request.ask_requester(by=BO, at=at, question="Which colour?")
        case "resolve":
            request.resolve(by=BO, at=at, note="Delivered")
        case "close":
            request.close(by=ANA, at=at)
        case "reject":
            request.reject(by=BO, at=at, reason="Not our service")
        case "cancel":
            request.cancel(by=ANA, at=at)
        case _:
            raise AssertionError(step)


def build_request(
    status: Status = Status.SUBMITTED,
    *,
    item: CatalogItem | None = None,
    calendar: BusinessCalendar | None = None,
    at: datetime = T0,
    pull: bool = True,
) -> ServiceRequest:
    request = ServiceRequest.submit(
        request_id="req-1",
        title="Laptop for Ana",
        item=item or build_item(),
        requester_id=ANA,
        requester_department_id=SALES,
        form={"reason": "old one broke", "model": "pro"},
        calendar=calendar or BusinessCalendar.always(),
        at=at,
    )
    for i, step in enumerate(PATHS[status], start=1):
        advance(request, step, at + timedelta(minutes=10 * i))
    assert request.status is status
    if pull:
        request.pull_events()
    return request


@pytest.fixture
def make_request() -> Callable[..., ServiceRequest]:
    return build_request


@pytest.fixture
def make_item() -> Callable[..., CatalogItem]:
    return build_item
