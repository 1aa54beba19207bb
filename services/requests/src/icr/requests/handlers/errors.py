"""Failures the use cases add to the domain's own (mapped to HTTP once, in the API)."""

from __future__ import annotations

from dataclasses import dataclass

from icr.requests.domain.errors import DomainError, FieldError, InvalidInput


class Unauthenticated(DomainError):
    """No actor, or one the directory does not know."""


@dataclass(frozen=True)
class RowReport:
    """What an import found wrong with one row (1-based, header excluded)."""

    row: int
    kind: str
    id: str
    errors: list[FieldError]


class ImportRejected(InvalidInput):
    """At least one row is invalid; nothing was applied."""

    def __init__(self, rows: list[RowReport], message: str | None = None) -> None:
        self.rows = rows
        bad = len(rows)
        super().__init__(message or f"{bad} row{'s' if bad != 1 else ''} invalid; nothing applied")


class ImportPending(DomainError):
    """The import was accepted and journaled, but applying it failed part-way (the store or a
    race); the scheduler completes it, so the caller must not fix rows by hand meanwhile."""

    def __init__(self, import_id: str, cause: str) -> None:
        self.import_id = import_id
        super().__init__(
            f"import {import_id} was accepted but not finished ({cause}); it will be completed "
            "automatically: do not re-send or edit its rows meanwhile"
        )
