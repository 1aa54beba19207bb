"""Typed domain errors. The API maps each family once: NotFound 404, Forbidden 403,
Conflict 409, InvalidInput (and FormInvalid) 422."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every expected failure the domain raises."""


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    """The request is valid but the current state does not allow it."""


class IllegalTransition(Conflict):
    def __init__(self, action: str, current_status: str) -> None:
        self.action = str(action)
        self.current_status = str(current_status)
        super().__init__(f"cannot {self.action} a request whose status is {self.current_status}")


class ClockError(Conflict):
    """An SLA clock was asked to do something its state does not allow."""


class ClockAlreadyPaused(ClockError):
    pass


class ClockNotPaused(ClockError):
    pass


class ClockStopped(ClockError):
    pass


class ClockNotStopped(ClockError):
    pass


class InvalidInput(DomainError, ValueError):
    """Bad input. Also a ValueError so value objects can raise it from their constructors."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one form field; `code` is stable for translations, `message` is English."""

    field: str
    code: str
    message: str


class FormInvalid(InvalidInput):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(f"form invalid: {summary}")
