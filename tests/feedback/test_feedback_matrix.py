"""The department matrix on the real broker and store: requests driven through the requests
service across three departments, ratings through the feedback service, every cell checked
exactly; then the projection rebuilt from the requests topic (twice over) gives the same numbers.

Both services share one settable clock, so every moment (and so every SLA verdict and every
backlog age) is placed exactly: T0 is Wednesday 2026-06-10 09:00 UTC, and everything happens
that day, in week 2026-W24, month 2026-06 and quarter 2026-Q2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.contracts import registry, topics
from icr.contracts.requests import RequestEvent
from icr.feedback.handlers import matrix
from icr.feedback.handlers.deps import Deps
from icr.feedback.settings import FeedbackSettings
from icr.kit.clock import SettableClock
from icr.kit.kafka import decode
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox
from icr.kit.periods import PeriodKind
from icr.kit.testing import service_settings_for_test, topic_records

pytestmark = pytest.mark.infra

T0 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
PEOPLE = {
    "ana": ("sales", ["employee"]),
    "cy": ("sales", ["employee"]),
    "sam": ("sales", ["manager"]),
    "dan": ("hr", ["employee"]),
    "hal": ("hr", ["manager"]),
    "bo": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
}
MANAGERS = {"it": "ivy", "hr": "hal", "sales": "sam"}
NO_BACKLOG = {
    "count": 0,
    "oldest_since": None,
    "oldest_age_seconds": None,
    "average_age_seconds": None,
}


def cell(**numbers: Any) -> dict[str, Any]:
    """A cell's expected numbers: zeros and nothing shown unless said otherwise."""
    base: dict[str, Any] = {
        "submitted": 0,
        "resolved": 0,
        "resolved_within_sla": 0,
        "sla_attainment": None,
        "reopened": 0,
        "reopen_rate": None,
        "closed": 0,
        "cancelled": 0,
        "rejected": 0,
        "invitations": 0,
        "ratings": 0,
        "distinct_raters": 0,
        "rating_shown": False,
        "average_rating": None,
        "calibrated_rating": None,
        "open_backlog": NO_BACKLOG,
    }
    return {**base, **numbers}


def backlog(count: int, since: datetime, oldest: int, average: int) -> dict[str, Any]:
    return {
        "count": count,
        "oldest_since": since.isoformat().replace("+00:00", "Z"),
        "oldest_age_seconds": oldest,
        "average_age_seconds": average,
    }


# Organisation mean of the period: (4 + 3 + 5 + 3 + 5 + 4) / 6 = 4.0; C = 5. Calibrated:
# it <- sales (4, 3): (5 * 4 + 7) / 7 = 3.857; sales <- it (5, 4): (20 + 9) / 7 = 4.143.
# Pairs with one rater stay below the anonymity threshold (2): counted, never shown.
EXPECTED = {
    ("it", "sales"): cell(
        submitted=2,
        resolved=2,
        resolved_within_sla=1,
        sla_attainment=0.5,
        reopened=1,
        reopen_rate=0.5,
        invitations=2,
        ratings=2,
        distinct_raters=2,
        rating_shown=True,
        average_rating=3.5,
        calibrated_rating=3.857,
        open_backlog=backlog(1, T0 + timedelta(hours=12), 7200, 7200),
    ),
    ("it", "hr"): cell(submitted=1, cancelled=1),
    ("hr", "sales"): cell(
        submitted=1,
        resolved=1,
        resolved_within_sla=1,
        sla_attainment=1.0,
        reopen_rate=0.0,
        closed=1,
        invitations=1,
        ratings=1,
        distinct_raters=1,
    ),
    ("hr", "it"): cell(submitted=2, open_backlog=backlog(2, T0, 14 * 3600, 13 * 3600)),
    ("sales", "hr"): cell(
        submitted=2,
        resolved=1,
        resolved_within_sla=1,
        sla_attainment=1.0,
        reopen_rate=0.0,
        rejected=1,
        invitations=1,
        ratings=1,
        distinct_raters=1,
    ),
    ("sales", "it"): cell(
        submitted=2,
        resolved=2,
        resolved_within_sla=2,
        sla_attainment=1.0,
        reopen_rate=0.0,
        invitations=2,
        ratings=2,
        distinct_raters=2,
        rating_shown=True,
        average_rating=4.5,
        calibrated_rating=4.143,
    ),
}


async def test_every_cell_of_the_matrix_and_its_rebuild_from_the_topic(platform) -> None:
    clock = SettableClock(T0)
    async with platform(clock=clock, anonymity_threshold=2) as p:
        await p.seed(PEOPLE, MANAGERS)

        async def submit(requester: str, provider: str) -> str:
            body = {"catalog_item_id": f"help-{provider}", "title": "help", "form": {}}
            rid: str = (await p.req("POST", "/requests", requester, body))["id"]
            return rid

        async def resolve(rid: str, agent: str) -> None:
            await p.req("POST", f"/requests/{rid}/accept", agent)
            await p.req("POST", f"/requests/{rid}/resolve", agent, {"note": "done"})

        async def rate(rid: str, person: str, stars: int) -> None:
            await p.fb_json(f"/ratings/{rid}", person)  # the invitation has arrived
            response = await p.fb("POST", f"/ratings/{rid}", person, json={"stars": stars})
            assert response.status_code == 201, response.text

        # T0: everything is submitted (the targets: 10 hours to resolve, every hour counts).
        r1, r2 = await submit("ana", "it"), await submit("cy", "it")
        r3 = await submit("dan", "it")
        r4 = await submit("ana", "hr")
        await submit("bo", "hr")  # left open: the backlog
        r6, r7 = await submit("hal", "sales"), await submit("dan", "sales")
        r8, r9 = await submit("bo", "sales"), await submit("ivy", "sales")
        clock.set(T0 + timedelta(hours=1))
        for rid, agent in ((r1, "bo"), (r4, "hal"), (r7, "sam"), (r8, "sam"), (r9, "sam")):
            await resolve(rid, agent)
        await p.req("POST", f"/requests/{r3}/cancel", "dan", {"reason": "not needed"})
        await p.req("POST", f"/requests/{r6}/reject", "sam", {"reason": "not ours"})
        await p.req("POST", f"/requests/{r4}/close", "ana")
        await p.req("POST", f"/requests/{r2}/accept", "bo")
        clock.set(T0 + timedelta(hours=2))
        await submit("ivy", "hr")  # open since T0 + 2 h
        clock.set(T0 + timedelta(hours=11))
        await p.req("POST", f"/requests/{r2}/resolve", "bo", {"note": "late"})  # target missed
        for rid, person, stars in (
            (r1, "ana", 4),
            (r2, "cy", 3),
            (r4, "ana", 5),
            (r7, "dan", 3),
            (r8, "bo", 5),
            (r9, "ivy", 4),
        ):
            await rate(rid, person, stars)
        clock.set(T0 + timedelta(hours=12))
        await p.req("POST", f"/requests/{r2}/reopen", "cy", {"reason": "still broken"})
        clock.set(T0 + timedelta(hours=14))
        params = {"period": "week", "key": "2026-W24"}

        async def settled() -> Any:
            response = await p.fb("GET", "/matrix", "ivy", params=params)
            body = response.json()
            if response.status_code != 200:
                return None
            cells = {
                (c["provider_department_id"], c["consumer_department_id"]): c for c in body["cells"]
            }
            numbers = {
                pair: {k: v for k, v in c.items() if not k.endswith("department_id")}
                for pair, c in cells.items()
            }
            return body if numbers == EXPECTED else None

        try:
            whole = await p.until(settled, timeout=30)
        except TimeoutError:
            last = (await p.fb("GET", "/matrix", "ivy", params=params)).json()
            raise AssertionError(f"the matrix never matched: {last}") from None
        assert whole["organisation_mean"] == 4.0
        assert whole["departments"] == ["hr", "it", "sales"]
        # Month and quarter hold the same day's numbers.
        for period, key in (("month", "2026-06"), ("quarter", "2026-Q2")):
            other = await p.fb_json("/matrix", "ivy", params={"period": period, "key": key})
            assert other["cells"] == whole["cells"]

        # An employee sees their own department's row and column only.
        mine = await p.fb_json("/matrix", "ana", params=params)
        assert sorted(
            (c["provider_department_id"], c["consumer_department_id"]) for c in mine["cells"]
        ) == [("hr", "sales"), ("it", "sales"), ("sales", "hr"), ("sales", "it")]

        sales = await p.fb_json("/departments/sales/reciprocity", "ana", params=params)
        assert sales == {
            "department_id": "sales",
            "period": "week",
            "period_key": "2026-W24",
            "provided": 4,
            "consumed": 3,
            "balance": 1,
            "counterparts": [
                {
                    "department_id": "hr",
                    "provided": 2,
                    "consumed": 1,
                    "rating_received": None,  # one rater each way: below the threshold
                    "rating_given": None,
                    "rating_asymmetry": None,
                },
                {
                    "department_id": "it",
                    "provided": 2,
                    "consumed": 2,
                    "rating_received": 4.5,
                    "rating_given": 3.5,
                    "rating_asymmetry": 1.0,
                },
            ],
        }
        it = await p.fb_json("/departments/it/reciprocity", "ivy", params=params)
        assert (it["provided"], it["consumed"], it["balance"]) == (3, 4, -1)
        assert [(c["department_id"], c["rating_asymmetry"]) for c in it["counterparts"]] == [
            ("hr", None),
            ("sales", -1.0),
        ]
        forbidden = await p.fb("GET", "/departments/it/reciprocity", "ana", params=params)
        assert forbidden.status_code == 403
        bad = await p.fb("GET", "/matrix", "ivy", params={"period": "week", "key": "2026-13"})
        assert bad.status_code == 422

        live = Mongo(p.feedback_settings)
        before = await _projection(
            Deps.build(live, Outbox(p.feedback_settings), p.feedback_settings)
        )
        await live.close()
        bootstrap = p.feedback_settings.kafka_bootstrap_servers
        name = p.feedback_settings.topic_name(topics.REQUESTS.name)
        records = await topic_records(bootstrap, name)

    rebuild = service_settings_for_test(FeedbackSettings)
    fresh = Mongo(rebuild)
    deps = Deps.build(fresh, Outbox(rebuild), rebuild)
    try:
        for _ in range(2):  # the second pass is a redelivery of everything: it adds nothing
            for record in records:
                envelope = decode(record.value)
                event = registry.parse(envelope)
                if isinstance(event, RequestEvent) and type(event).__name__ in _PROJECTED:
                    await matrix.project_request_event(event, envelope, deps=deps)  # type: ignore[arg-type]
        after = await _projection(deps)
    finally:
        await fresh.client.drop_database(rebuild.database)
        await fresh.close()
    assert after == before
    assert len(before["week"]) == 6


_PROJECTED = {
    "RequestSubmitted",
    "RequestResolved",
    "RequestReopened",
    "RequestClosed",
    "RequestCancelled",
    "RequestRejected",
}


async def _projection(deps: Deps) -> dict[str, Any]:
    found: dict[str, Any] = {
        kind.value: await deps.matrix.counts(kind, key)
        for kind, key in (
            (PeriodKind.WEEK, "2026-W24"),
            (PeriodKind.MONTH, "2026-06"),
            (PeriodKind.QUARTER, "2026-Q2"),
        )
    }
    found["open"] = await deps.matrix.open_now()
    return found
