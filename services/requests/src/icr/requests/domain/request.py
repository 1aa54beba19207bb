"""The ServiceRequest aggregate: lifecycle, conversation, history, sub-requests and SLA clocks.

Each action checks the transition table, changes state, appends history and records the
matching contract event; the handler saves state and events in one write (the outbox).

Decisions:
- The first-response clock stops at accept, at reject, or at the first public comment from the
  provider side, whichever comes first (the handler says whether the author is provider side).
- The resolution clock pauses while waiting on the requester; a reopen resumes it with the
  budget left at resolution (the resolved-to-reopened gap counts as a pause), never a fresh one.
- The calendar is the provider's, captured at submit with the catalog version, so a request's
  terms never change under it.
- An instant earlier than the last change (clock skew between replicas) is taken as the last
  change's instant, so history and clocks stay ordered.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import datetime
from typing import Any

from icr.contracts.requests import (
    RequestAccepted,
    RequestAssigned,
    RequestCancelled,
    RequestClosed,
    RequestRejected,
    RequestReopened,
    RequestResolved,
    RequestResumed,
    RequestSubmitted,
    RequestWaiting,
)
from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.catalog import CatalogItem, Priority
from icr.requests.domain.errors import Conflict, FieldError, FormInvalid, InvalidInput
from icr.requests.domain.lifecycle import (
    DEFAULT_POLICY,
    Action,
    LifecyclePolicy,
    Status,
    check_transition,
)
from icr.requests.domain.request_state import MAX_TITLE_LENGTH, RequestState, text
from icr.requests.domain.sla import ClockKind, SlaClock
from icr.requests.domain.timeline import Comment


class ServiceRequest(RequestState):
    """The aggregate. Fields and shared helpers live in RequestState."""

    # --- submit ---------------------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        request_id: str,
        title: str,
        item: CatalogItem,
        requester_id: str,
        requester_department_id: str,
        form: Mapping[str, Any],
        calendar: BusinessCalendar,
        at: datetime,
        priority: Priority | None = None,
        description: str = "",
        parent_id: str | None = None,
        known_people: Container[str] | None = None,
    ) -> ServiceRequest:
        """Validate the form against `item`, start both clocks on the provider's calendar."""
        if not item.active:
            raise InvalidInput(f"catalog item {item.id} is retired")
        errors: list[FieldError] = []
        title = title.strip()
        if not title or len(title) > MAX_TITLE_LENGTH:
            errors.append(
                FieldError(
                    "title",
                    "required" if not title else "too_long",
                    f"must be 1 to {MAX_TITLE_LENGTH} characters",
                )
            )
        try:
            cleaned = item.validate_form(form, known_people=known_people)
        except FormInvalid as exc:
            errors.extend(exc.errors)
        if errors:
            raise FormInvalid(errors)
        priority = priority or item.default_priority
        targets = item.targets_for(priority, requester_department_id, calendar.local_date(at))
        request = cls(
            id=request_id,
            title=title,
            catalog_item_id=item.id,
            catalog_item_version=item.version,
            provider_department_id=item.provider_department_id,
            owning_team=item.owning_team,
            requester_id=requester_id,
            requester_department_id=requester_department_id,
            priority=priority,
            form=cleaned,
            calendar=calendar,
            first_response=SlaClock.start(ClockKind.FIRST_RESPONSE, targets.first_response, at),
            resolution=SlaClock.start(ClockKind.RESOLUTION, targets.resolution, at),
            submitted_at=at,
            updated_at=at,
            description=description.strip(),
            parent_id=parent_id,
            allow_resolve_with_open_children=item.allow_resolve_with_open_children,
        )
        request._log(requester_id, "submit", at, priority=str(priority))
        request.record(
            RequestSubmitted(
                request_id=request_id,
                title=title,
                catalog_item_id=item.id,
                catalog_item_version=item.version,
                requester_id=requester_id,
                requester_department_id=requester_department_id,
                provider_department_id=item.provider_department_id,
                priority=str(priority),
                submitted_at=at,
                first_response_due_at=request.first_response.due_at(calendar),
                resolution_due_at=request.resolution.due_at(calendar),
                parent_request_id=parent_id,
                owning_team=item.owning_team,
            )
        )
        return request

    # --- provider actions -----------------------------------------------------------------------

    def accept(self, *, by: str, at: datetime) -> None:
        to, at = self._begin(Action.ACCEPT, at)
        self._stop(ClockKind.FIRST_RESPONSE, at)
        self.record(
            RequestAccepted(
                request_id=self.id,
                accepted_by=by,
                accepted_at=at,
                first_response_met=self.first_response.met(self.calendar),
                first_response_seconds=self._seconds(self.first_response, at),
            )
        )
        self._finish(Action.ACCEPT, to, by, at)

    def assign(self, *, by: str, at: datetime, assignee_id: str) -> None:
        """Assign or reassign; assigning the current assignee again changes nothing."""
        to, at = self._begin(Action.ASSIGN, at)
        if assignee_id == self.assignee_id:
            return
        previous, self.assignee_id = self.assignee_id, assignee_id
        self.record(
            RequestAssigned(
                request_id=self.id,
                assignee_id=assignee_id,
                previous_assignee_id=previous,
                assigned_by=by,
                assigned_at=at,
            )
        )
        self._finish(Action.ASSIGN, to, by, at, assignee_id=assignee_id)

    def start_work(self, *, by: str, at: datetime) -> None:
        """Start work; whoever starts an unassigned request becomes its assignee."""
        check_transition(Action.START, self.status)
        if self.assignee_id is None:
            self.assign(by=by, at=at, assignee_id=by)
        to, at = self._begin(Action.START, at)
        self._finish(Action.START, to, by, at)

    def ask_requester(self, *, by: str, at: datetime, question: str) -> Comment:
        """Ask the requester something; the resolution clock pauses until they reply."""
        to, at = self._begin(Action.ASK, at)
        comment = self._add_comment(by, at, text("question", question), public=True)
        self.resolution = self.resolution.pause(at)
        self.record(
            RequestWaiting(request_id=self.id, asked_by=by, question=comment.body, waiting_since=at)
        )
        self._finish(Action.ASK, to, by, at, comment_id=comment.id)
        return comment

    def resolve(self, *, by: str, at: datetime, note: str) -> None:
        to, at = self._begin(Action.RESOLVE, at)
        note = text("resolution note", note)
        open_children = self.open_children
        if open_children and not self.allow_resolve_with_open_children:
            raise Conflict(
                f"cannot resolve while sub-requests are open: {', '.join(open_children)}"
            )
        self._stop(ClockKind.RESOLUTION, at)
        self.resolved_at, self.resolution_note = at, note
        fr, res, cal = self.first_response, self.resolution, self.calendar
        self.record(
            RequestResolved(
                request_id=self.id,
                resolved_by=by,
                resolved_at=at,
                note=note,
                assignee_id=self.assignee_id,
                provider_department_id=self.provider_department_id,
                requester_id=self.requester_id,
                requester_department_id=self.requester_department_id,
                first_response_met=bool(fr.met(cal)),
                resolution_met=bool(res.met(cal)),
                first_response_seconds=self._seconds(fr, at),
                resolution_seconds=self._seconds(res, at),
                first_response_due_at=fr.due_at(cal),
                resolution_due_at=res.due_at(cal),
                reopen_count=self.reopen_count,
            )
        )
        self._finish(Action.RESOLVE, to, by, at)

    def reject(self, *, by: str, at: datetime, reason: str) -> None:
        to, at = self._begin(Action.REJECT, at)
        self.reason = text("reason", reason, limit=MAX_TITLE_LENGTH * 5)
        self._stop_all(at)
        self.record(
            RequestRejected(request_id=self.id, rejected_by=by, rejected_at=at, reason=self.reason)
        )
        self._finish(Action.REJECT, to, by, at, reason=self.reason)

    # --- requester actions ----------------------------------------------------------------------

    def reply(self, *, by: str, at: datetime, message: str = "") -> Comment | None:
        """The requester answers; the resolution clock runs again."""
        to, at = self._begin(Action.REPLY, at)
        comment = None
        if message.strip():
            comment = self._add_comment(by, at, text("reply", message), public=True)
        self.resolution = self.resolution.resume(at)
        self.record(RequestResumed(request_id=self.id, resumed_by=by, resumed_at=at))
        self._finish(Action.REPLY, to, by, at)
        return comment

    def close(
        self,
        *,
        by: str,
        at: datetime,
        automatic: bool = False,
        policy: LifecyclePolicy = DEFAULT_POLICY,
    ) -> None:
        """Close on the requester's confirmation, or automatically once the delay has passed."""
        to, at = self._begin(Action.CLOSE, at)
        due = self.auto_close_at(policy)
        if automatic and due is not None and at < due:
            raise Conflict(f"automatic close is due at {due.isoformat()}, not before")
        self.closed_at = at
        self.record(
            RequestClosed(
                request_id=self.id,
                closed_by=by,
                closed_at=at,
                automatic=automatic,
                assignee_id=self.assignee_id,
                provider_department_id=self.provider_department_id,
                requester_id=self.requester_id,
            )
        )
        self._finish(Action.CLOSE, to, by, at, automatic=str(automatic).lower())

    def reopen(
        self, *, by: str, at: datetime, reason: str, policy: LifecyclePolicy = DEFAULT_POLICY
    ) -> None:
        """Reopen a resolved request within the window; the resolution clock resumes."""
        to, at = self._begin(Action.REOPEN, at)
        reason = text("reason", reason)
        assert self.resolved_at is not None  # RESOLVED always has it
        if at > self.resolved_at + policy.reopen_window:
            raise Conflict(f"the reopen window of {policy.reopen_window} has passed")
        self.resolution = self.resolution.reopen(at)
        self.resolved_at = self.resolution_note = None
        self.reopen_count += 1
        self.record(
            RequestReopened(
                request_id=self.id,
                reopened_by=by,
                reopened_at=at,
                reason=reason,
                assignee_id=self.assignee_id,
                provider_department_id=self.provider_department_id,
                reopen_count=self.reopen_count,
            )
        )
        self._finish(Action.REOPEN, to, by, at)

    def cancel(self, *, by: str, at: datetime, reason: str = "") -> None:
        to, at = self._begin(Action.CANCEL, at)
        self.reason = reason.strip() or None
        self._stop_all(at)
        self.record(
            RequestCancelled(
                request_id=self.id, cancelled_by=by, cancelled_at=at, reason=reason.strip()
            )
        )
        self._finish(Action.CANCEL, to, by, at)

    # --- conversation ---------------------------------------------------------------------------

    def comment(
        self,
        *,
        by: str,
        at: datetime,
        body: str,
        by_provider: bool = False,
        comment_id: str | None = None,
    ) -> Comment:
        """A public comment. From the requester while waiting it is their reply (the clock
        resumes); the first one from the provider side counts as the first response."""
        check_transition(Action.COMMENT, self.status)
        body = text("comment", body)
        if self.status is Status.WAITING_ON_REQUESTER and by == self.requester_id:
            reply = self.reply(by=by, at=at, message=body)
            assert reply is not None
            return reply
        to, at = self._begin(Action.COMMENT, at)
        comment = self._add_comment(by, at, body, public=True, comment_id=comment_id)
        if by_provider and not self.first_response.is_stopped:
            self._stop(ClockKind.FIRST_RESPONSE, at)
        self._finish(Action.COMMENT, to, by, at, comment_id=comment.id)
        return comment

    def add_internal_note(
        self, *, by: str, at: datetime, body: str, comment_id: str | None = None
    ) -> Comment:
        """A note for the provider side only: no event, and the history keeps only its id."""
        to, at = self._begin(Action.NOTE, at)
        note = self._add_comment(by, at, text("note", body), public=False, comment_id=comment_id)
        self._finish(Action.NOTE, to, by, at, comment_id=note.id)
        return note
