"""The request state machine as data: which action is legal in which status, and where it
leads. Keeping it a table lets tests, the API docs and the aggregate share one truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from icr.requests.domain.errors import IllegalTransition, InvalidInput


class Status(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING_ON_REQUESTER = "waiting_on_requester"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Action(StrEnum):
    """The one vocabulary of request actions: `allowed_actions`, the REST path of each action
    (`POST /requests/{id}/{action}`), the gateway's mutation of the same name, the history's
    `action` and the status_changed event's `action` all use these values."""

    ACCEPT = "accept"
    ASSIGN = "assign"
    START = "start"
    ASK = "ask"
    REPLY = "reply"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    REJECT = "reject"
    CANCEL = "cancel"
    COMMENT = "comment"
    NOTE = "note"
    SUBREQUEST = "subrequest"


S = Status
OPEN = frozenset({S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_ON_REQUESTER})
WORKING = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.WAITING_ON_REQUESTER})
TERMINAL = frozenset({S.CLOSED, S.REJECTED, S.CANCELLED})
# A child in one of these no longer holds its parent back.
CHILD_DONE = frozenset({S.RESOLVED, S.CLOSED, S.REJECTED, S.CANCELLED})

# action -> (statuses it is legal in, status it leads to; None keeps the status)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.ACCEPT: (frozenset({S.SUBMITTED}), S.ACCEPTED),
    Action.ASSIGN: (OPEN, None),
    Action.START: (frozenset({S.ACCEPTED}), S.IN_PROGRESS),
    Action.ASK: (frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.WAITING_ON_REQUESTER),
    Action.REPLY: (frozenset({S.WAITING_ON_REQUESTER}), S.IN_PROGRESS),
    Action.RESOLVE: (WORKING, S.RESOLVED),
    Action.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    Action.REOPEN: (frozenset({S.RESOLVED}), S.IN_PROGRESS),
    Action.REJECT: (OPEN, S.REJECTED),
    Action.CANCEL: (OPEN, S.CANCELLED),
    Action.COMMENT: (frozenset(Status) - TERMINAL, None),
    Action.NOTE: (frozenset(Status), None),
    Action.SUBREQUEST: (WORKING, None),
}


def check_transition(action: Action, status: Status) -> Status:
    """The status `action` leads to from `status`, or IllegalTransition naming `status`."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(action, status)
    return status if target is None else target


def allowed_actions(status: Status) -> list[Action]:
    """What the UI may offer in `status` (before authorization narrows it per actor)."""
    return [a for a, (allowed, _) in TRANSITIONS.items() if status in allowed]


@dataclass(frozen=True)
class LifecyclePolicy:
    """Service-wide knobs, passed in from settings so the domain holds no configuration."""

    auto_close_after: timedelta = timedelta(days=5)
    reopen_window: timedelta = timedelta(days=7)
    warning_share: float = 0.25

    def __post_init__(self) -> None:
        if self.auto_close_after <= timedelta(0) or self.reopen_window < timedelta(0):
            raise InvalidInput("auto-close delay must be positive and reopen window not negative")
        if not 0 < self.warning_share < 1:
            raise InvalidInput("warning share must be between 0 and 1")


DEFAULT_POLICY = LifecyclePolicy()
