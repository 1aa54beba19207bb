"""The score projection (from rating and evaluation events), its reads and its update events."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from icr.contracts.feedback import (
    DepartmentScoreUpdated,
    EvaluationSubmitted,
    RatingChanged,
    RatingRequested,
    RatingSubmitted,
)
from icr.feedback.domain.anonymity import shown_parts
from icr.feedback.domain.errors import NotFound, invalid
from icr.feedback.domain.scores import Score, score_of
from icr.feedback.handlers.access import check_admin, check_department_reader
from icr.feedback.handlers.deps import Deps
from icr.feedback.store import Level, StoredCell, score_id
from icr.kit.directory import Member
from icr.kit.outbox import ConcurrentUpdate
from icr.kit.periods import PeriodKind, bounds, period_key


def _publish_at(deps: Deps) -> datetime:
    return deps.clock() + timedelta(seconds=deps.settings.score_publish_delay_seconds)


async def project_rating_requested(event: RatingRequested, event_id: str, *, deps: Deps) -> None:
    await deps.scores.add(
        event_id=event_id,
        at=event.requested_at,
        provider=event.provider_department_id,
        consumer=event.requester_department_id,
        inc={"invitations": 1},
        publish_at=_publish_at(deps),
    )


async def project_rating_submitted(event: RatingSubmitted, event_id: str, *, deps: Deps) -> None:
    await deps.scores.add(
        event_id=event_id,
        at=event.requested_at or event.submitted_at,
        provider=event.provider_department_id,
        consumer=event.rater_department_id,
        inc={"ratings": 1, "stars_sum": event.stars, f"dist.{event.stars}": 1},
        add_to_set={"raters": event.rater_id},
        publish_at=_publish_at(deps),
    )


async def project_rating_changed(event: RatingChanged, event_id: str, *, deps: Deps) -> None:
    if event.stars == event.previous_stars:
        return
    await deps.scores.add(
        event_id=event_id,
        at=event.requested_at or event.changed_at,
        provider=event.provider_department_id,
        consumer=event.rater_department_id,
        inc={
            "stars_sum": event.stars - event.previous_stars,
            f"dist.{event.previous_stars}": -1,
            f"dist.{event.stars}": 1,
        },
        publish_at=_publish_at(deps),
    )


async def project_evaluation(event: EvaluationSubmitted, event_id: str, *, deps: Deps) -> None:
    if event.nps_score is None:
        return
    await deps.scores.add(
        event_id=event_id,
        at=event.period_start,
        provider=event.provider_department_id,
        consumer=event.respondent_department_id,
        inc={
            "nps_respondents": 1,
            "promoters": int(event.nps_score >= 9),
            "detractors": int(event.nps_score <= 6),
        },
        publish_at=_publish_at(deps),
    )


async def org_mean(kind: PeriodKind | str, key: str, deps: Deps) -> float | None:
    org = await deps.scores.cell(score_id(kind, key, "*", None))
    return org.value.cell.average if org else None


def score_of_cell(stored: StoredCell, mean: float | None, deps: Deps) -> Score:
    """What a reader sees of a stored cell (calibrated toward the organisation's `mean`)."""
    return score_of(
        stored.cell,
        provider=stored.provider_department_id,
        consumer=stored.consumer_department_id,
        period=stored.period,
        key=stored.period_key,
        org_mean=mean,
        weight=deps.settings.score_prior_weight,
        threshold=deps.settings.anonymity_threshold,
    )


async def publish_score_when_due(sid: str, now: datetime, *, deps: Deps) -> bool:
    """Writes the cell's `DepartmentScoreUpdated`; False when the cell changed meanwhile (it
    stays due, so the next pass publishes the newer numbers)."""
    loaded = await deps.scores.cell(sid)
    if loaded is None:
        return False
    stored = loaded.value
    score = score_of_cell(stored, await org_mean(stored.period, stored.period_key, deps), deps)
    event = DepartmentScoreUpdated(
        score_id=sid,
        period=stored.period,
        period_key=stored.period_key,
        provider_department_id=stored.provider_department_id,
        consumer_department_id=stored.consumer_department_id,
        invitations=score.invitations,
        ratings=score.ratings,
        distinct_raters=score.distinct_raters,
        average=score.average,
        calibrated=score.calibrated,
        response_rate=score.response_rate,
        nps=score.nps,
        updated_at=now,
    )
    try:
        await deps.scores.publish(loaded, [event])
    except ConcurrentUpdate:
        return False
    return True


def period_key_of(at: datetime, kind: PeriodKind = PeriodKind.MONTH) -> str:
    return period_key(kind, at)


def check_period(kind: PeriodKind, key: str) -> None:
    try:
        bounds(kind, key)
    except ValueError as exc:
        raise invalid("period_key", "invalid", str(exc)) from None


async def department_scores(
    department_id: str, kind: PeriodKind, key: str, *, member: Member, deps: Deps
) -> tuple[Score, list[Score]]:
    """The department's score for the period and its score from each consumer department."""
    check_period(kind, key)
    check_department_reader(member, department_id)
    mean = await org_mean(kind, key, deps)
    own = await deps.scores.cell(score_id(kind, key, department_id, None))
    if own is None:
        raise NotFound(f"no scores for {department_id} in {key}")
    pairs = [
        score_of_cell(p, mean, deps)
        for p in await deps.scores.cells(kind, key, Level.PAIR, department_id)
    ]
    department = score_of_cell(own.value, mean, deps)
    return department, _without_recoverable_nps(department, pairs, deps)


def _without_recoverable_nps(department: Score, pairs: list[Score], deps: Deps) -> list[Score]:
    """The pairs, with the NPS hidden where the department's NPS minus the shown pairs' would
    give away a hidden pair's campaign answers (they are anonymous; ratings are not)."""
    if department.nps is None:
        return pairs
    sizes = {p.consumer_department_id or "": p.nps_respondents for p in pairs}
    threshold = deps.settings.anonymity_threshold
    shown = shown_parts(sizes, threshold, {k: k for k in sizes})
    return [
        p if (p.consumer_department_id or "") in shown else dataclasses.replace(p, nps=None)
        for p in pairs
    ]


async def score_table(
    kind: PeriodKind, key: str, *, member: Member, deps: Deps
) -> tuple[float | None, list[Score]]:
    """Every department's score for the period, best calibrated first (admins)."""
    check_period(kind, key)
    check_admin(member)
    mean = await org_mean(kind, key, deps)
    cells = await deps.scores.cells(kind, key, Level.DEPARTMENT)
    scores = [score_of_cell(c, mean, deps) for c in cells]
    scores.sort(
        key=lambda s: (s.calibrated is None, -(s.calibrated or 0), s.provider_department_id)
    )
    return mean, scores
