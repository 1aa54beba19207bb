"""Expected failures of the incentives domain, each mapped once to an HTTP answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class IncentivesError(Exception):
    """Base of the typed failures the API maps (never a 500)."""


class NotFound(IncentivesError):
    pass


class Forbidden(IncentivesError):
    pass


class Conflict(IncentivesError):
    pass


class InvalidInput(IncentivesError):
    """Input the domain refuses, with one error per field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    @classmethod
    def one(cls, field: str, code: str, message: str) -> InvalidInput:
        return cls([FieldError(field, code, message)])


class InsufficientPoints(IncentivesError):
    """A redemption costs more than the available balance (reserved points excluded)."""


class OutOfStock(IncentivesError):
    pass


class AllowanceExceeded(IncentivesError):
    """A recognition larger than what is left of the giver's monthly allowance."""


class CapReached(IncentivesError):
    """A recognition beyond the per giver-and-recipient cap of the period."""
