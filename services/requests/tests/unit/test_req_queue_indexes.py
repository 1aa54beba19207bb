"""The listings a service desk lives on are answered from a declared index, not a scan.

The local Mongo stand-in has no query planner, so this checks the rule the real one follows:
the filter's equality fields, then the sort fields, must be a prefix of one declared index.
"""

from __future__ import annotations

import pytest

from icr.requests.domain import Actor, Role
from icr.requests.domain.access import visibility
from icr.requests.domain.lifecycle import OPEN
from icr.requests.store import INDEXES, RequestFilters, RequestQuery, SortKey
from icr.requests.store.query import serving_index

REQUESTS = INDEXES["requests"]
AGENT = Actor("bo", "it", frozenset({Role.AGENT}))
MANAGER = Actor("mia", "it", frozenset({Role.MANAGER}))
ADMIN = Actor("root", "", frozenset({Role.ADMIN}))


@pytest.mark.parametrize("actor", [AGENT, MANAGER, ADMIN], ids=["agent", "manager", "admin"])
@pytest.mark.parametrize("descending", [True, False])
def test_department_queue_of_open_requests_newest_first_is_indexed(actor, descending) -> None:
    query = RequestQuery(
        visibility=visibility(actor),
        filters=RequestFilters(provider_department_ids=("it",), statuses=tuple(OPEN)),
        sort=SortKey.CREATED,
        descending=descending,
    )
    assert serving_index(query, REQUESTS) == "queue_by_created"


@pytest.mark.parametrize("actor", [AGENT, MANAGER, ADMIN], ids=["agent", "manager", "admin"])
def test_department_queue_by_due_time_is_indexed(actor) -> None:
    query = RequestQuery(
        visibility=visibility(actor),
        filters=RequestFilters(provider_department_ids=("it",)),
        sort=SortKey.DUE,
        descending=False,
    )
    assert serving_index(query, REQUESTS) == "queue_by_due"


def test_a_query_no_index_serves_is_reported_as_such() -> None:
    query = RequestQuery(
        visibility=visibility(ADMIN),
        filters=RequestFilters(priorities=()),
        sort=SortKey.UPDATED,
    )
    assert serving_index(query, REQUESTS) is None
