"""Ratings, from the feedback service: a request's rating, my ratings and open invitations, a
department's ratings, and the rating mutations (rate, changeRating, rateClarity), each a union
of the rating and typed problems."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.directory import Department, Person, department, person
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from

if TYPE_CHECKING:
    from icr.gateway.requests import ServiceRequest

Info = strawberry.Info[Context, None]
Request = Annotated["ServiceRequest", strawberry.lazy("icr.gateway.requests")]


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.enum
class RatingStatus(Enum):
    INVITED = "invited"
    RATED = "rated"
    EXPIRED = "expired"
    SKIPPED = "skipped"


@strawberry.type
class RatingDimensions:
    """Optional scores (1 to 5) beside the stars."""

    responsiveness: int | None = None
    quality: int | None = None
    communication: int | None = None


@strawberry.type
class Rating:
    """The requester's rating of a resolved request: `INVITED` until given, then `RATED`;
    `EXPIRED` when the invitation ran out, `SKIPPED` when none was sent (`skipReason`)."""

    request_id: strawberry.ID
    rater_id: strawberry.ID
    status: RatingStatus
    resolution: int = strawberry.field(description="Which resolution (1 + reopens) it rates.")
    requested_at: datetime
    expires_at: datetime | None
    skip_reason: str | None
    stars: int | None
    comment: str | None
    dimensions: RatingDimensions
    submitted_at: datetime | None
    changed_at: datetime | None
    clarity_stars: int | None = strawberry.field(
        description="The provider's rating of how clear the request was (two-sided feedback)."
    )
    recovery_resolved_at: datetime | None
    provider_department_id: strawberry.Private[str]
    rater_department_id: strawberry.Private[str]
    recovery_request_id: strawberry.Private[str | None]

    @classmethod
    def from_json(cls, row: Json) -> Rating:
        dims = row.get("dimensions") or {}
        return cls(
            request_id=strawberry.ID(row["request_id"]),
            rater_id=strawberry.ID(row["rater_id"]),
            status=RatingStatus(row["status"]),
            resolution=int(row.get("resolution", 1)),
            requested_at=datetime.fromisoformat(row["requested_at"]),
            expires_at=when(row.get("expires_at")),
            skip_reason=row.get("skip_reason"),
            stars=row.get("stars"),
            comment=row.get("comment"),
            dimensions=RatingDimensions(
                responsiveness=dims.get("responsiveness"),
                quality=dims.get("quality"),
                communication=dims.get("communication"),
            ),
            submitted_at=when(row.get("submitted_at")),
            changed_at=when(row.get("changed_at")),
            clarity_stars=row.get("clarity_stars"),
            recovery_resolved_at=when(row.get("recovery_resolved_at")),
            provider_department_id=row["provider_department_id"],
            rater_department_id=row.get("rater_department_id") or "",
            recovery_request_id=row.get("recovery_request_id"),
        )

    @strawberry.field
    async def rater(self, info: Info) -> Person | None:
        return await person(info, str(self.rater_id))

    @strawberry.field
    async def provider_department(self, info: Info) -> Department | None:
        return await department(info, self.provider_department_id)

    @strawberry.field
    async def rater_department(self, info: Info) -> Department | None:
        return await department(info, self.rater_department_id)

    @strawberry.field(description="The rated request.")
    async def request(self, info: Info) -> Request | None:
        # Imported here: icr.gateway.requests imports this module (a request has its rating).
        from icr.gateway.requests import request

        return await request(info, str(self.request_id))

    @strawberry.field(
        description="The recovery request a low rating opened (the closed loop), if any."
    )
    async def recovery_request(self, info: Info) -> Request | None:
        from icr.gateway.requests import request

        return await request(info, self.recovery_request_id)


def ratings_of(rows: list[Json]) -> list[Rating]:
    return [Rating.from_json(r) for r in rows]


async def _get(info: Info, path: str, **params: Any) -> Any:
    return await info.context.clients.feedback.call(
        "GET", path, token=info.context.token(), params=params or None
    )


@strawberry.type
class FeedbackQuery:
    @strawberry.field(description="A request's rating, if the caller may see it.")
    async def rating(self, info: Info, request_id: strawberry.ID) -> Rating | None:
        row = await info.context.loaders.ratings.load(str(request_id))
        return Rating.from_json(row) if row else None

    @strawberry.field(description="The caller's ratings and invitations, newest first.")
    async def my_ratings(self, info: Info, first: int = 50) -> list[Rating] | None:
        return ratings_of(await _get(info, "/ratings/mine", limit=first))

    @strawberry.field(description="The caller's invitations still open to rate, newest first.")
    async def my_rating_invitations(self, info: Info) -> list[Rating] | None:
        largest = info.context.clients.settings.max_page_size
        rows = await _get(info, "/ratings/mine", limit=largest)
        return [r for r in ratings_of(rows) if r.status is RatingStatus.INVITED]

    @strawberry.field(
        description="A department's ratings with comments (its manager and agents, admins)."
    )
    async def department_ratings(
        self, info: Info, department_id: strawberry.ID, first: int = 50
    ) -> list[Rating] | None:
        path = f"/departments/{segment(str(department_id))}/ratings"
        return ratings_of(await _get(info, path, limit=first))


@strawberry.input
class DimensionsInput:
    responsiveness: int | None = None
    quality: int | None = None
    communication: int | None = None


@strawberry.input
class RatingInput:
    stars: int = strawberry.field(description="1 to 5.")
    comment: str | None = None
    dimensions: DimensionsInput | None = None

    def body(self) -> dict[str, Any]:
        dims = self.dimensions or DimensionsInput()
        given = {
            "responsiveness": dims.responsiveness,
            "quality": dims.quality,
            "communication": dims.communication,
        }
        return {
            "stars": self.stars,
            "comment": self.comment,
            "dimensions": {k: v for k, v in given.items() if v is not None},
        }


RatingResult = Annotated[
    Rating | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("RatingResult", description="The rating as it is now, or why not."),
]


async def _rating_call(
    info: Info, method: str, request_id: strawberry.ID, body: dict[str, Any], tail: str = ""
) -> RatingResult:
    path = f"/ratings/{segment(str(request_id))}{tail}"
    try:
        row = await info.context.clients.feedback.call(
            method, path, token=info.context.token(), json=body
        )
    except UpstreamError as error:
        return problem_from(error)
    return Rating.from_json(row)


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(description="Requester: rate a resolved request (once, when invited).")
    async def rate(self, info: Info, request_id: strawberry.ID, input: RatingInput) -> RatingResult:
        return await _rating_call(info, "POST", request_id, input.body())

    @strawberry.mutation(description="Requester: change a rating within the change window.")
    async def change_rating(
        self, info: Info, request_id: strawberry.ID, input: RatingInput
    ) -> RatingResult:
        return await _rating_call(info, "PUT", request_id, input.body())

    @strawberry.mutation(description="Provider's agents and manager: how clear the request was.")
    async def rate_clarity(self, info: Info, request_id: strawberry.ID, stars: int) -> RatingResult:
        return await _rating_call(info, "POST", request_id, {"stars": stars}, "/clarity")
