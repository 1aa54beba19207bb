"""One service down, the rest of the answer still comes: the platform's real processes, one of
them stopped (its port refuses) or frozen (SIGSTOP: connections accepted, nothing answers).
The failing fields carry SERVICE_UNAVAILABLE naming the service; nothing waits past the
gateway's upstream timeout; /health/ready names the service; all is well once it is back."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import Platform
from .org import Org, build_org, eventually
from .test_gateway_flows import resolved_request

pytestmark = pytest.mark.e2e

# The services' REQUEST_TIMEOUT_SECONDS (5) plus 1: the gateway's default upstream timeout.
UPSTREAM_TIMEOUT = 6.0
ACROSS = """query($id: ID!) {
  me { id department { id } }
  request(id: $id) { id status rating { stars } }
  myRatingInvitations { requestId }
}"""


@pytest.fixture(scope="module")
def org(platform: Platform) -> Org:
    return build_org(platform, "down")


@pytest.fixture
def restored(platform: Platform) -> Iterator[Platform]:
    try:
        yield platform
    finally:
        for app in ("requests", "feedback"):
            with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
                platform.resume(app)
        platform.restore()


def unavailable(body: dict, service: str) -> list[tuple[str, ...]]:
    """The paths of the errors that name `service` as unavailable; no other error allowed."""
    paths = []
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
        assert error["extensions"]["service"] == service, error
        assert "request_id" in error["extensions"], error
        paths.append(tuple(str(p) for p in error["path"]))
    return paths


def test_with_feedback_stopped_the_requests_fields_still_resolve(
    restored: Platform, org: Org
) -> None:
    platform = restored
    rid = resolved_request(platform, org)
    platform.stop("feedback")

    started = time.monotonic()
    body = platform.graphql_body(ACROSS, {"id": rid}, actor=org.ana)
    assert time.monotonic() - started < 3  # refused at once, tried once more, no waiting
    assert body["data"]["me"] == {"id": org.ana, "department": {"id": org.sales}}
    assert body["data"]["request"] == {"id": rid, "status": "RESOLVED", "rating": None}
    assert body["data"]["myRatingInvitations"] is None
    assert sorted(unavailable(body, "feedback")) == [
        ("myRatingInvitations",),
        ("request", "rating"),
    ]
    ready = httpx.get(f"{platform.gateway}/health/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "requests": "ok",
        "feedback": "down: unreachable",
        "incentives": "ok",
    }

    platform.restore()

    def whole() -> dict | None:
        again = platform.graphql_body(ACROSS, {"id": rid}, actor=org.ana)
        return None if "errors" in again else again["data"]

    data = eventually(whole)
    assert data["request"]["status"] == "RESOLVED"


def test_with_requests_frozen_nothing_hangs_and_feedback_still_answers(
    restored: Platform, org: Org
) -> None:
    platform = restored
    rid = resolved_request(platform, org)
    eventually(
        lambda: (
            rid
            in [
                r["requestId"]
                for r in platform.graphql("{ myRatingInvitations { requestId } }", actor=org.ana)[
                    "myRatingInvitations"
                ]
            ]
        )
    )
    platform.pause("requests")
    try:
        started = time.monotonic()
        body = platform.graphql_body(
            "query($id: ID!) { rating(requestId: $id) { status } departments { id } }",
            {"id": rid},
            actor=org.ana,
        )
        elapsed = time.monotonic() - started
    finally:
        platform.resume("requests")
    # Bounded by the upstream timeout (a timeout is not retried: asking again adds load).
    assert UPSTREAM_TIMEOUT - 1 < elapsed < UPSTREAM_TIMEOUT + 3, elapsed
    assert body["data"]["rating"] == {"status": "INVITED"}
    assert body["data"]["departments"] is None
    assert unavailable(body, "requests") == [("departments",)]
    # Back: the same query answers whole.
    whole = platform.graphql(
        "query($id: ID!) { rating(requestId: $id) { status } departments { id } }",
        {"id": rid},
        actor=org.ana,
    )
    assert org.it in [d["id"] for d in whole["departments"]]
