"""Scores by period, the department matrix and reciprocity, from the feedback service's
projections (one call each: the service computes them from events, never by fan-out here)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.directory import Department, department

Info = strawberry.Info[Context, None]


@strawberry.enum
class PeriodKind(Enum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


@strawberry.input(description='A calendar period in UTC: e.g. {kind: MONTH, key: "2026-12"}.')
class PeriodInput:
    kind: PeriodKind
    key: str = strawberry.field(description="2026-W49 (week), 2026-12 (month), 2026-Q4.")

    def params(self) -> dict[str, str]:
        return {"period": self.kind.value, "key": self.key}


@strawberry.type
class Score:
    """A department's (or a pair's) score for a period. Averages, the calibrated score and the
    distribution are null unless `shown` (enough distinct raters for anonymity)."""

    period: PeriodKind
    period_key: str
    shown: bool
    invitations: int
    ratings: int
    distinct_raters: int
    average: float | None
    calibrated: float | None
    response_rate: float | None
    nps: float | None
    distribution: list[int] = strawberry.field(description="How many 1, 2, 3, 4 and 5 stars.")
    provider_department_id: strawberry.Private[str]
    consumer_department_id: strawberry.Private[str | None]

    @classmethod
    def from_json(cls, row: Json) -> Score:
        dist = row.get("distribution") or {}
        return cls(
            period=PeriodKind(row["period"]),
            period_key=row["period_key"],
            shown=row["shown"],
            invitations=row["invitations"],
            ratings=row["ratings"],
            distinct_raters=row["distinct_raters"],
            average=row.get("average"),
            calibrated=row.get("calibrated"),
            response_rate=row.get("response_rate"),
            nps=row.get("nps"),
            distribution=[int(dist.get(k, 0)) for k in "12345"] if dist else [],
            provider_department_id=row["provider_department_id"],
            consumer_department_id=row.get("consumer_department_id"),
        )

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.provider_department_id)

    @strawberry.field(description="For a pair: the department that was served.")
    async def consumer_department(self, info: Info) -> Department | None:
        return await department(info, self.consumer_department_id)


@strawberry.type
class DepartmentScores:
    department: Score
    pairs: list[Score] = strawberry.field(description="Its score from each consumer department.")


@strawberry.type
class ScoreTable:
    organisation_mean: float | None
    departments: list[Score] = strawberry.field(description="Best calibrated first.")


@strawberry.type
class Backlog:
    """Requests open now (whatever the period), aged at the moment of the query."""

    count: int
    oldest_since: datetime | None
    oldest_age_seconds: int | None
    average_age_seconds: int | None


@strawberry.type
class MatrixCell:
    """What the provider department did for the consumer department in the period."""

    submitted: int = strawberry.field(description="Request volume.")
    resolved: int
    resolved_within_sla: int
    sla_attainment: float | None = strawberry.field(description="resolvedWithinSla / resolved.")
    reopened: int = strawberry.field(description="Resolutions of the period later reopened.")
    reopen_rate: float | None
    closed: int
    cancelled: int
    rejected: int
    invitations: int
    ratings: int
    distinct_raters: int
    rating_shown: bool
    average_rating: float | None
    calibrated_rating: float | None
    open_backlog: Backlog
    provider_department_id: strawberry.Private[str]
    consumer_department_id: strawberry.Private[str]

    @classmethod
    def from_json(cls, row: Json) -> MatrixCell:
        numbers = {k: v for k, v in row.items() if k != "open_backlog"}
        backlog = row["open_backlog"]
        return cls(
            **numbers,
            open_backlog=Backlog(
                count=backlog["count"],
                oldest_since=(
                    datetime.fromisoformat(backlog["oldest_since"])
                    if backlog.get("oldest_since")
                    else None
                ),
                oldest_age_seconds=backlog.get("oldest_age_seconds"),
                average_age_seconds=backlog.get("average_age_seconds"),
            ),
        )

    @strawberry.field
    async def provider(self, info: Info) -> Department | None:
        return await department(info, self.provider_department_id)

    @strawberry.field
    async def consumer(self, info: Info) -> Department | None:
        return await department(info, self.consumer_department_id)


@strawberry.type
class DepartmentMatrix:
    """Every provider-by-consumer pair the caller may see, in both directions."""

    period: PeriodKind
    period_key: str
    organisation_mean: float | None
    cells: list[MatrixCell]
    department_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The departments that appear in the cells.")
    async def departments(self, info: Info) -> list[Department]:
        found = await info.context.loaders.departments.load_many(self.department_ids)
        return [Department.from_json(row) for row in found if row]


@strawberry.type
class Counterpart:
    provided: int = strawberry.field(description="Requests the other department submitted here.")
    consumed: int = strawberry.field(description="Requests this department submitted there.")
    rating_received: float | None = strawberry.field(description="Their rating of us.")
    rating_given: float | None = strawberry.field(description="Our rating of them.")
    rating_asymmetry: float | None = strawberry.field(description="Received minus given.")
    department_id: strawberry.Private[str]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.department_id)


@strawberry.type
class Reciprocity:
    """Services a department provides versus consumes, and how it and each other department
    rate each other, in a period."""

    period: PeriodKind
    period_key: str
    provided: int
    consumed: int
    balance: int = strawberry.field(description="Provided minus consumed.")
    counterparts: list[Counterpart]
    department_id: strawberry.Private[str]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.department_id)


async def _get(info: Info, path: str, params: dict[str, Any]) -> Any:
    return await info.context.clients.feedback.call(
        "GET", path, token=info.context.token(), params=params
    )


@strawberry.type
class ScoresQuery:
    @strawberry.field(
        description="A department's score and its pairs (its manager and agents, admins); "
        "null when nobody was invited to rate it in the period."
    )
    async def department_scores(
        self, info: Info, department_id: strawberry.ID, period: PeriodInput
    ) -> DepartmentScores | None:
        path = f"/departments/{segment(str(department_id))}/scores"
        try:
            found = await _get(info, path, period.params())
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise
        return DepartmentScores(
            department=Score.from_json(found["department"]),
            pairs=[Score.from_json(p) for p in found["pairs"]],
        )

    @strawberry.field(description="Every department's score, best calibrated first (admins).")
    async def scores(self, info: Info, period: PeriodInput) -> ScoreTable | None:
        found = await _get(info, "/scores", period.params())
        return ScoreTable(
            organisation_mean=found["organisation_mean"],
            departments=[Score.from_json(s) for s in found["departments"]],
        )

    @strawberry.field(
        description="For a period, every provider-by-consumer department pair: volume, SLA "
        "attainment, ratings, reopen rate, open backlog. Admins and managers see all of it, "
        "others their own department's row and column."
    )
    async def department_matrix(self, info: Info, period: PeriodInput) -> DepartmentMatrix | None:
        found = await _get(info, "/matrix", period.params())
        return DepartmentMatrix(
            period=PeriodKind(found["period"]),
            period_key=found["period_key"],
            organisation_mean=found["organisation_mean"],
            cells=[MatrixCell.from_json(c) for c in found["cells"]],
            department_ids=found["departments"],
        )

    @strawberry.field(
        description="What a department provides versus consumes, and rating asymmetry with "
        "each other department (admins, managers, its own members)."
    )
    async def reciprocity(
        self, info: Info, department_id: strawberry.ID, period: PeriodInput
    ) -> Reciprocity | None:
        path = f"/departments/{segment(str(department_id))}/reciprocity"
        found = await _get(info, path, period.params())
        return Reciprocity(
            period=PeriodKind(found["period"]),
            period_key=found["period_key"],
            provided=found["provided"],
            consumed=found["consumed"],
            balance=found["balance"],
            counterparts=[
                Counterpart(
                    provided=c["provided"],
                    consumed=c["consumed"],
                    rating_received=c["rating_received"],
                    rating_given=c["rating_given"],
                    rating_asymmetry=c["rating_asymmetry"],
                    department_id=c["department_id"],
                )
                for c in found["counterparts"]
            ],
            department_id=found["department_id"],
        )
