"""Score arithmetic: averages, distributions, response rate, NPS and the calibrated score.

Calibrated score (a Bayesian average): (C * m + sum of stars) / (C + n), where n is the number
of ratings, m the organisation's mean for the same period and C the prior weight
(`SCORE_PRIOR_WEIGHT`, default 5: a department needs about five ratings before its own mean
counts as much as the organisation's). Two five-star ratings in an organisation averaging 3.8
give (5 * 3.8 + 10) / 7 = 4.14, below a department with forty ratings averaging 4.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def nps(scores: Iterable[int]) -> float | None:
    """Net promoter score of 0-10 answers: % promoters (9, 10) minus % detractors (0 to 6)."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(v >= 9 for v in values)
    detractors = sum(v <= 6 for v in values)
    return round(100 * (promoters - detractors) / len(values), 1)


def calibrated(
    *, stars_sum: int, count: int, prior_mean: float | None, weight: float
) -> float | None:
    """The Bayesian average toward `prior_mean`; the raw mean when there is no prior."""
    if count == 0:
        return None
    if prior_mean is None or weight <= 0:
        return round(stars_sum / count, 3)
    return round((weight * prior_mean + stars_sum) / (weight + count), 3)


@dataclass(frozen=True)
class Cell:
    """Counts of one department (or pair) in one period, as the projection keeps them."""

    invitations: int = 0
    ratings: int = 0
    stars_sum: int = 0
    distribution: Mapping[str, int] = field(default_factory=dict)
    distinct_raters: int = 0
    nps_respondents: int = 0
    promoters: int = 0
    detractors: int = 0

    @property
    def average(self) -> float | None:
        return round(self.stars_sum / self.ratings, 3) if self.ratings else None

    @property
    def response_rate(self) -> float | None:
        """Ratings given per invitation sent in the period (both counted by invitation time)."""
        if not self.invitations:
            return None
        return round(min(1.0, self.ratings / self.invitations), 3)

    @property
    def nps(self) -> float | None:
        if not self.nps_respondents:
            return None
        return round(100 * (self.promoters - self.detractors) / self.nps_respondents, 1)


@dataclass(frozen=True)
class Score:
    """What a reader sees of a cell: numbers only above the anonymity threshold."""

    provider_department_id: str
    consumer_department_id: str | None
    period: str
    period_key: str
    invitations: int
    ratings: int
    distinct_raters: int
    shown: bool
    average: float | None
    calibrated: float | None
    distribution: dict[str, int]
    response_rate: float | None
    nps: float | None
    nps_respondents: int


def score_of(
    cell: Cell,
    *,
    provider: str,
    consumer: str | None,
    period: str,
    key: str,
    org_mean: float | None,
    weight: float,
    threshold: int,
) -> Score:
    shown = cell.distinct_raters >= threshold
    nps_shown = cell.nps_respondents >= threshold
    return Score(
        provider_department_id=provider,
        consumer_department_id=consumer,
        period=period,
        period_key=key,
        invitations=cell.invitations,
        ratings=cell.ratings,
        distinct_raters=cell.distinct_raters,
        shown=shown,
        average=cell.average if shown else None,
        calibrated=calibrated(
            stars_sum=cell.stars_sum, count=cell.ratings, prior_mean=org_mean, weight=weight
        )
        if shown
        else None,
        distribution={k: cell.distribution.get(k, 0) for k in "12345"} if shown else {},
        response_rate=cell.response_rate,
        nps=cell.nps if nps_shown else None,
        nps_respondents=cell.nps_respondents,
    )
