"""Request listing: the filter an actor asks for, narrowed by what they may see, as one query.

Pagination is by keyset (the sort value and the id of the last row), so a page costs the same
at any depth and rows inserted meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import IndexModel

from icr.kit.mongo import Document
from icr.requests.domain.access import Visibility
from icr.requests.domain.catalog import Priority
from icr.requests.domain.errors import FieldError, FormInvalid
from icr.requests.domain.lifecycle import Status


class SortKey(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DUE = "due"
    PRIORITY = "priority"


SORT_FIELDS = {
    SortKey.CREATED: "submitted_at",
    SortKey.UPDATED: "updated_at",
    SortKey.DUE: "due_at",
    SortKey.PRIORITY: "priority_rank",
}


@dataclass(frozen=True)
class Cursor:
    value: datetime | int
    id: str


@dataclass(frozen=True)
class RequestFilters:
    """What a listing asks for; tuples are "any of", ranges are [from, to)."""

    statuses: tuple[Status, ...] = ()
    provider_department_ids: tuple[str, ...] = ()
    consumer_department_ids: tuple[str, ...] = ()
    priorities: tuple[Priority, ...] = ()
    breached: bool | None = None
    requester_ids: tuple[str, ...] = ()
    assignee_ids: tuple[str, ...] = ()
    parent_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None


@dataclass(frozen=True)
class RequestQuery:
    visibility: Visibility
    filters: RequestFilters = field(default_factory=RequestFilters)
    sort: SortKey = SortKey.CREATED
    descending: bool = True
    limit: int = 50
    after: Cursor | None = None


def _in(values: tuple[str, ...]) -> Document:
    unique = sorted(set(values))
    return {"$eq": unique[0]} if len(unique) == 1 else {"$in": unique}


def visibility_filter(vis: Visibility) -> Document | None:
    """The `can_see` rule as a query; None when the actor sees everything."""
    if vis.everything:
        return None
    alternatives: list[Document] = []
    if vis.person_id is not None:
        alternatives += [{"requester_id": vis.person_id}, {"assignee_id": vis.person_id}]
    if vis.provider_department_ids:
        alternatives.append({"provider_department_id": _in(tuple(vis.provider_department_ids))})
    if vis.consumer_department_ids:
        alternatives.append({"requester_department_id": _in(tuple(vis.consumer_department_ids))})
    if vis.subrequests_raised_by_department_ids:
        raised = tuple(vis.subrequests_raised_by_department_ids)
        alternatives.append({"requester_department_id": _in(raised), "parent_id": {"$ne": None}})
    return {"$or": alternatives} if alternatives else {"_id": {"$in": []}}


def _implied_by_filter(q: RequestQuery) -> bool:
    """True when the filter alone already stays inside what the actor may see, so the
    visibility clause can go and the query can use the department index directly."""
    vis, f = q.visibility, q.filters
    return (
        bool(f.provider_department_ids)
        and set(f.provider_department_ids) <= vis.provider_department_ids
    ) or (
        bool(f.consumer_department_ids)
        and set(f.consumer_department_ids) <= vis.consumer_department_ids
    )


def _range(low: datetime | None, high: datetime | None) -> Document | None:
    bounds: Document = {}
    if low is not None:
        bounds["$gte"] = low
    if high is not None:
        bounds["$lt"] = high
    return bounds or None


def build_filter(q: RequestQuery) -> Document:
    clauses: list[Document] = []
    if not _implied_by_filter(q) and (vis := visibility_filter(q.visibility)) is not None:
        clauses.append(vis)
    f = q.filters
    fields: Document = {}
    if f.provider_department_ids:
        fields["provider_department_id"] = _in(f.provider_department_ids)
    if f.consumer_department_ids:
        fields["requester_department_id"] = _in(f.consumer_department_ids)
    if f.statuses:
        fields["status"] = _in(tuple(str(s) for s in f.statuses))
    if f.priorities:
        fields["priority"] = _in(tuple(str(p) for p in f.priorities))
    if f.breached is not None:
        fields["breached"] = f.breached
    if f.requester_ids:
        fields["requester_id"] = _in(f.requester_ids)
    if f.assignee_ids:
        fields["assignee_id"] = _in(f.assignee_ids)
    if f.parent_id is not None:
        fields["parent_id"] = f.parent_id
    if (created := _range(f.created_from, f.created_to)) is not None:
        fields["submitted_at"] = created
    if (due := _range(f.due_from, f.due_to)) is not None:
        fields["due_at"] = due
    if fields:
        clauses.append(fields)
    if q.after is not None:
        key, op = SORT_FIELDS[q.sort], "$lt" if q.descending else "$gt"
        clauses.append(
            {
                "$or": [
                    {key: {op: q.after.value}},
                    {key: q.after.value, "_id": {op: q.after.id}},
                ]
            }
        )
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def serving_index(q: RequestQuery, indexes: Sequence[IndexModel]) -> str | None:
    """The declared index that answers `q` without a blocking sort: the filter's equality
    fields first, then the sort fields in order or all reversed (the planner's rule for an
    index-bounded, limit-stopped scan). None for filters too complex to judge this way."""
    flt, sort = build_filter(q), sort_spec(q)
    if "$and" in flt or "$or" in flt:
        return None
    equality = set(flt)
    for model in indexes:
        spec = model.document
        keys = list(spec["key"].items())
        head, tail = keys[: len(equality)], keys[len(equality) :]
        reverse = [(k, -d) for k, d in sort]
        if {k for k, _ in head} == equality and tail[: len(sort)] in (sort, reverse):
            return str(spec["name"])
    return None


def sort_spec(q: RequestQuery) -> list[tuple[str, int]]:
    direction = -1 if q.descending else 1
    return [(SORT_FIELDS[q.sort], direction), ("_id", direction)]


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(q: RequestQuery, doc: Document) -> str:
    value = doc[SORT_FIELDS[q.sort]]
    raw: dict[str, Any] = {
        "s": str(q.sort),
        "d": q.descending,
        "v": value.isoformat() if isinstance(value, datetime) else value,
        "i": doc["_id"],
    }
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def decode_cursor(text: str, *, sort: SortKey, descending: bool) -> Cursor:
    """The position a cursor names; it must come from a list sorted the same way."""
    bad = FormInvalid([FieldError("cursor", "invalid", "is not a cursor of this listing")])
    try:
        raw = json.loads(base64.urlsafe_b64decode(text.encode()))
        if raw["s"] != str(sort) or raw["d"] is not descending or not isinstance(raw["i"], str):
            raise bad
        value = raw["v"]
        if sort is SortKey.PRIORITY:
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad
            return Cursor(value, raw["i"])
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise bad
        return Cursor(at, raw["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad from None
