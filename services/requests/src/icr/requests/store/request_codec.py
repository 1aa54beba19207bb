"""Request documents <-> ServiceRequest aggregates, plus the denormalised query fields.

The aggregate is stored whole (clocks with their pauses, comments, history, children); next to
it the store keeps flat fields that queries, indexes and timers read, recomputed on every write
so they never disagree with the state they summarise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from icr.kit.mongo import Document
from icr.requests.clock import ceil_ms
from icr.requests.domain.catalog import Priority
from icr.requests.domain.lifecycle import LifecyclePolicy, Status
from icr.requests.domain.request import ServiceRequest
from icr.requests.domain.sla import ClockKind, Pause, SlaClock
from icr.requests.domain.timeline import Comment, HistoryEntry
from icr.requests.store.codec import calendar_from_doc, calendar_to_doc

# Sorting by due time must not meet nulls (keyset pagination compares values), so a request
# with no running clock sorts after every real due time.
NEVER_DUE = datetime(9999, 12, 31, tzinfo=UTC)
PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}

SLA_DUE = "sla_next_check_at"
AUTO_CLOSE_DUE = "auto_close_at"

# Action names before the one vocabulary (issue 11); history written then reads in today's words.
_RENAMED = {
    "start_work": "start",
    "ask_requester": "ask",
    "internal_note": "note",
    "add_subrequest": "subrequest",
}


def _clock_to_doc(clock: SlaClock) -> Document:
    return {
        "target_seconds": clock.target.total_seconds(),
        "started_at": clock.started_at,
        "pauses": [{"start": p.start, "end": p.end} for p in clock.pauses],
        "stopped_at": clock.stopped_at,
        "warned_at": clock.warned_at,
        "breached_at": clock.breached_at,
    }


def _clock_from_doc(kind: ClockKind, doc: Document) -> SlaClock:
    return SlaClock(
        kind=kind,
        target=timedelta(seconds=doc["target_seconds"]),
        started_at=doc["started_at"],
        pauses=tuple(Pause(p["start"], p.get("end")) for p in doc.get("pauses", [])),
        stopped_at=doc.get("stopped_at"),
        warned_at=doc.get("warned_at"),
        breached_at=doc.get("breached_at"),
    )


def _form_to_doc(form: dict[str, Any]) -> Document:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in form.items()}


def request_to_doc(request: ServiceRequest, policy: LifecyclePolicy) -> Document:
    """Every stored field but `_id`, `version` and the outbox's own."""
    first, resolution = request.first_response, request.resolution
    running_dues = [
        due
        for clock in (first, resolution)
        if not clock.is_stopped and (due := clock.due_at(request.calendar)) is not None
    ]
    next_check = request.next_sla_check_at(policy.warning_share)
    auto_close = request.auto_close_at(policy)
    return {
        # state
        "title": request.title,
        "description": request.description,
        "status": str(request.status),
        "priority": str(request.priority),
        "catalog_item_id": request.catalog_item_id,
        "catalog_item_version": request.catalog_item_version,
        "provider_department_id": request.provider_department_id,
        "owning_team": request.owning_team,
        "requester_id": request.requester_id,
        "requester_department_id": request.requester_department_id,
        "assignee_id": request.assignee_id,
        "parent_id": request.parent_id,
        "form": _form_to_doc(request.form),
        "calendar": calendar_to_doc(request.calendar),
        "first_response": _clock_to_doc(first),
        "resolution": _clock_to_doc(resolution),
        "submitted_at": request.submitted_at,
        "updated_at": request.updated_at,
        "children": [{"id": c, "status": str(s)} for c, s in request.children.items()],
        "allow_resolve_with_open_children": request.allow_resolve_with_open_children,
        "resolved_at": request.resolved_at,
        "resolution_note": request.resolution_note,
        "closed_at": request.closed_at,
        "reason": request.reason,
        "reopen_count": request.reopen_count,
        "comments": [
            {"id": c.id, "author_id": c.author_id, "body": c.body, "at": c.at, "public": c.public}
            for c in request.comments
        ],
        "history": [
            {"actor_id": h.actor_id, "action": h.action, "at": h.at, "details": dict(h.details)}
            for h in request.history
        ],
        # denormalised for queries, sorting and timers
        "priority_rank": PRIORITY_RANK[request.priority],
        "first_response_due_at": first.due_at(request.calendar),
        "resolution_due_at": resolution.due_at(request.calendar),
        "due_at": min(running_dues, default=NEVER_DUE),
        "breached": first.breached_at is not None or resolution.breached_at is not None,
        SLA_DUE: ceil_ms(next_check) if next_check is not None else None,
        AUTO_CLOSE_DUE: ceil_ms(auto_close) if auto_close is not None else None,
    }


def request_from_doc(doc: Document) -> ServiceRequest:
    return ServiceRequest(
        id=doc["_id"],
        title=doc["title"],
        catalog_item_id=doc["catalog_item_id"],
        catalog_item_version=doc["catalog_item_version"],
        provider_department_id=doc["provider_department_id"],
        owning_team=doc["owning_team"],
        requester_id=doc["requester_id"],
        requester_department_id=doc["requester_department_id"],
        priority=Priority(doc["priority"]),
        form=dict(doc.get("form", {})),
        calendar=calendar_from_doc(doc["calendar"]),
        first_response=_clock_from_doc(ClockKind.FIRST_RESPONSE, doc["first_response"]),
        resolution=_clock_from_doc(ClockKind.RESOLUTION, doc["resolution"]),
        submitted_at=doc["submitted_at"],
        updated_at=doc["updated_at"],
        status=Status(doc["status"]),
        description=doc.get("description", ""),
        assignee_id=doc.get("assignee_id"),
        parent_id=doc.get("parent_id"),
        children={c["id"]: Status(c["status"]) for c in doc.get("children", [])},
        allow_resolve_with_open_children=doc.get("allow_resolve_with_open_children", False),
        resolved_at=doc.get("resolved_at"),
        resolution_note=doc.get("resolution_note"),
        closed_at=doc.get("closed_at"),
        reason=doc.get("reason"),
        reopen_count=doc.get("reopen_count", 0),
        comments=[
            Comment(c["id"], c["author_id"], c["body"], c["at"], c["public"])
            for c in doc.get("comments", [])
        ],
        history=[
            HistoryEntry(
                h["actor_id"], _RENAMED.get(h["action"], h["action"]), h["at"], h.get("details", {})
            )
            for h in doc.get("history", [])
        ],
    )
