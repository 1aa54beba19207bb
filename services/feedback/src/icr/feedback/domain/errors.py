"""Expected failures of the feedback domain; the API maps each to one status code."""

from __future__ import annotations

from dataclasses import dataclass


class NotFound(Exception):
    """404: no such rating, campaign or department (or one the caller may not know about)."""


class Forbidden(Exception):
    """403: the caller is known but may not do this."""


class Conflict(Exception):
    """409: the state does not allow it (rated twice, expired, campaign closed, ...)."""


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class InvalidInput(Exception):
    """422 with one entry per bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def invalid(field: str, code: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field, code, message)])
