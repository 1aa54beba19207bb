"""The state of a ServiceRequest and the plumbing its actions share: recording events,
checking transitions, history, comments, sub-requests and read-only queries.

Split from request.py so that module reads as the lifecycle alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from icr.contracts.base import Event
from icr.contracts.requests import RequestCommented, RequestStatusChanged
from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.catalog import Priority
from icr.requests.domain.errors import InvalidInput, NotFound
from icr.requests.domain.lifecycle import (
    CHILD_DONE,
    DEFAULT_POLICY,
    Action,
    LifecyclePolicy,
    Status,
    allowed_actions,
    check_transition,
)
from icr.requests.domain.sla import SlaClock
from icr.requests.domain.sla_checks import SlaChecks
from icr.requests.domain.timeline import MAX_COMMENT_LENGTH, SYSTEM, Comment, HistoryEntry

MAX_TITLE_LENGTH = 200


# Field names, ids and timestamps of one comment or history entry as BSON, generously.
_ENTRY_OVERHEAD = 256


def text(what: str, value: str, *, limit: int = MAX_COMMENT_LENGTH) -> str:
    """`value` stripped; empty or longer than `limit` is InvalidInput naming `what`."""
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{what} must be at most {limit} characters")
    return value


@dataclass(eq=False)
class RequestState(SlaChecks):
    """Everything a request holds; a store rebuilds one with these keyword arguments."""

    id: str
    title: str
    catalog_item_id: str
    catalog_item_version: int
    provider_department_id: str
    owning_team: str
    requester_id: str
    requester_department_id: str
    priority: Priority
    form: dict[str, Any]
    calendar: BusinessCalendar
    first_response: SlaClock
    resolution: SlaClock
    submitted_at: datetime
    updated_at: datetime
    status: Status = Status.SUBMITTED
    description: str = ""
    assignee_id: str | None = None
    parent_id: str | None = None
    children: dict[str, Status] = field(default_factory=dict)
    allow_resolve_with_open_children: bool = False
    resolved_at: datetime | None = None
    resolution_note: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None  # why it was rejected or cancelled
    reopen_count: int = 0
    comments: list[Comment] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    _events: list[Event] = field(default_factory=list, init=False, repr=False)

    # --- events ---------------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        self._events.append(event)

    def pull_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    # --- sub-requests ---------------------------------------------------------------------------

    def add_subrequest(self, *, by: str, at: datetime, child_id: str) -> None:
        to, at = self._begin(Action.SUBREQUEST, at)
        if child_id == self.id or child_id in self.children:
            raise InvalidInput(f"{child_id} is already linked to this request")
        self.children[child_id] = Status.SUBMITTED
        self._finish(Action.SUBREQUEST, to, by, at, child_id=child_id)

    def note_child_status(self, child_id: str, status: Status, *, at: datetime) -> None:
        """Mirror a child's status (from its events); allowed in any status of the parent."""
        if child_id not in self.children:
            raise NotFound(f"{child_id} is not a sub-request of {self.id}")
        if self.children[child_id] != status:
            self.children[child_id] = Status(status)
            self._log(SYSTEM, "child_status", at, child_id=child_id, status=str(status))

    @property
    def open_children(self) -> list[str]:
        return sorted(c for c, s in self.children.items() if s not in CHILD_DONE)

    # --- queries --------------------------------------------------------------------------------

    def allowed_actions(self) -> list[Action]:
        return allowed_actions(self.status)

    def auto_close_at(self, policy: LifecyclePolicy = DEFAULT_POLICY) -> datetime | None:
        """When the scheduler should close a resolved request nobody confirmed."""
        if self.status is not Status.RESOLVED or self.resolved_at is None:
            return None
        return self.resolved_at + policy.auto_close_after

    def public_comments(self) -> list[Comment]:
        return [c for c in self.comments if c.public]

    def grown_size(self) -> int:
        """Bytes the parts that grow with use take when stored (comments in UTF-8, history),
        an upper estimate: what keeps a request far below MongoDB's 16 MB per document."""
        comments = sum(len(c.body.encode()) + _ENTRY_OVERHEAD for c in self.comments)
        history = sum(
            _ENTRY_OVERHEAD + sum(len(k) + len(v.encode()) for k, v in h.details.items())
            for h in self.history
        )
        return comments + history

    # --- internals ------------------------------------------------------------------------------

    def _begin(self, action: Action, at: datetime) -> tuple[Status, datetime]:
        to = check_transition(action, self.status)
        if at.tzinfo is None:
            raise InvalidInput("action instants must be timezone-aware")
        return to, max(at, self.updated_at)

    def _finish(self, action: Action, to: Status, by: str, at: datetime, **details: str) -> None:
        self._log(by, str(action), at, **details)
        self.updated_at = at
        if to is not self.status:
            previous, self.status = self.status, to
            self.record(
                RequestStatusChanged(
                    request_id=self.id,
                    from_status=str(previous),
                    to_status=str(to),
                    action=str(action),
                    changed_by=by,
                    changed_at=at,
                )
            )

    def _log(self, actor: str, action: str, at: datetime, **details: str) -> None:
        self.history.append(HistoryEntry(actor, action, at, details))

    def _add_comment(
        self, by: str, at: datetime, body: str, *, public: bool, comment_id: str | None = None
    ) -> Comment:
        comment = Comment(comment_id or str(uuid.uuid4()), by, body, at, public)
        self.comments.append(comment)
        if public:
            self.record(
                RequestCommented(
                    request_id=self.id,
                    comment_id=comment.id,
                    author_id=by,
                    body=body,
                    commented_at=at,
                )
            )
        return comment
