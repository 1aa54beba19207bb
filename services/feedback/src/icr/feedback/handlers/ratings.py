"""The requester's rating, its change, the agent's clarity rating, and the reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from icr.feedback.domain.errors import Forbidden, NotFound
from icr.feedback.domain.rating import Answer, Rating
from icr.feedback.handlers.access import can_see_rating, check_department_reader
from icr.feedback.handlers.deps import Deps, retrying
from icr.kit.directory import Member


async def _act(request_id: str, act: Callable[[Rating, datetime], None], deps: Deps) -> Rating:
    """Loads the rating, lets the domain act on it now, saves it with its events."""

    async def attempt() -> Rating:
        loaded = await deps.ratings.get(request_id)
        if loaded is None:
            raise NotFound(f"no rating invitation for request {request_id}")
        act(loaded.value, deps.clock())
        await deps.ratings.save(loaded)
        return loaded.value

    return await retrying(deps, attempt)


async def submit_rating(request_id: str, answer: Answer, *, member: Member, deps: Deps) -> Rating:
    """Rates a resolved request: only its invited requester, once, before the expiry."""

    def rate(rating: Rating, at: datetime) -> None:
        rating.rate(by=member.person_id, answer=answer, at=at, policy=deps.policy)

    return await _act(request_id, rate, deps)


async def change_rating(request_id: str, answer: Answer, *, member: Member, deps: Deps) -> Rating:
    """Changes a rating within the change window."""

    def change(rating: Rating, at: datetime) -> None:
        rating.change(by=member.person_id, answer=answer, at=at, policy=deps.policy)

    return await _act(request_id, change, deps)


async def rate_clarity(request_id: str, stars: int, *, member: Member, deps: Deps) -> Rating:
    """The provider side rates how clear the request was (once)."""

    def rate(rating: Rating, at: datetime) -> None:
        if not member.serves_in(rating.provider_department_id):
            raise Forbidden("only the provider department's agents and manager rate clarity")
        rating.rate_clarity(by=member.person_id, stars=stars, at=at)

    return await _act(request_id, rate, deps)


async def ratings_by_request(
    request_ids: Sequence[str], *, member: Member, deps: Deps
) -> list[Rating]:
    """The batch read the gateway uses: only the ratings the caller may see."""
    found = await deps.ratings.by_request_ids(list(dict.fromkeys(request_ids)))
    return [r for r in found if can_see_rating(member, r)]


async def get_rating(request_id: str, *, member: Member, deps: Deps) -> Rating:
    loaded = await deps.ratings.get(request_id)
    if loaded is None or not can_see_rating(member, loaded.value):
        # 404 for others' ratings as well: their existence is not the caller's business.
        raise NotFound(f"no rating for request {request_id}")
    return loaded.value


async def my_ratings(*, member: Member, deps: Deps, limit: int) -> list[Rating]:
    return await deps.ratings.by_rater(member.person_id, limit)


async def department_ratings(
    department_id: str, *, member: Member, deps: Deps, limit: int
) -> list[Rating]:
    check_department_reader(member, department_id)
    return await deps.ratings.by_provider(department_id, limit)
