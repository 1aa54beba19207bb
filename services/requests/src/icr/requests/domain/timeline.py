"""What a request remembers besides its state: the conversation and the audit history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

SYSTEM = "system"  # actor id of the scheduler and other automatic actions

MAX_COMMENT_LENGTH = 10_000


@dataclass(frozen=True)
class Comment:
    """A public comment (seen by the requester and published) or an internal note (seen only
    by the provider side and never published)."""

    id: str
    author_id: str
    body: str
    at: datetime
    public: bool


@dataclass(frozen=True)
class HistoryEntry:
    """One line of who did what and when. Details hold ids and short reasons only, never an
    internal note's text, so the history can be shown to everyone who sees the request."""

    actor_id: str
    action: str
    at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
