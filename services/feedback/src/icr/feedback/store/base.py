"""What every store of this service shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A domain object with the document version it was read at (for optimistic writes)."""

    value: T
    version: int
