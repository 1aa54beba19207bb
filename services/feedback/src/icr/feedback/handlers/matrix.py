"""The department matrix: its projection from request events, and its reads.

Each request event counts in the period of its own moment (submission, resolution, closing,
cancellation, rejection), except a reopen, which counts against the resolution it undoes (so
the reopen rate of a period is the share of its resolutions that were reopened).
"""

from __future__ import annotations

import logging
from datetime import datetime

from icr.contracts import Envelope
from icr.contracts.requests import (
    RequestCancelled,
    RequestClosed,
    RequestRejected,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
)
from icr.feedback.domain.matrix import MatrixCell, Pair, Reciprocity, cells_of, reciprocity_of
from icr.feedback.domain.scores import Score
from icr.feedback.handlers.access import check_matrix_reader, matrix_scope
from icr.feedback.handlers.deps import Deps
from icr.feedback.handlers.scores import check_period, org_mean, score_of_cell
from icr.feedback.store import Level
from icr.kit.directory import Member
from icr.kit.periods import PeriodKind

log = logging.getLogger(__name__)

Ended = RequestClosed | RequestCancelled | RequestRejected


def _ended_at(event: Ended) -> tuple[str, datetime]:
    if isinstance(event, RequestClosed):
        return "closed", event.closed_at
    if isinstance(event, RequestCancelled):
        return "cancelled", event.cancelled_at
    return "rejected", event.rejected_at


async def project_request_event(
    event: RequestSubmitted | RequestResolved | RequestReopened | Ended,
    envelope: Envelope,
    *,
    deps: Deps,
) -> None:
    """Counts the event in its pair's cells and records the request's state after it."""
    sequence = envelope.sequence or 0
    tracked = await deps.matrix.request(event.request_id)
    if tracked is not None and sequence and tracked.sequence >= sequence:
        return  # recorded already: a redelivery or a replay of an earlier position
    if isinstance(event, RequestSubmitted):
        pair = (event.provider_department_id, event.requester_department_id)
        at, inc, open_since = event.submitted_at, {"submitted": 1}, event.submitted_at
    elif isinstance(event, RequestResolved):
        pair = (event.provider_department_id, event.requester_department_id)
        at, open_since = event.resolved_at, None
        inc = {"resolved": 1, "resolved_met": int(event.resolution_met)}
    elif tracked is None:
        # Its submission is older than the topic's retention: nothing to attribute it to.
        log.warning("matrix: %s of an unknown request %s", envelope.type, event.request_id)
        return
    elif isinstance(event, RequestReopened):
        pair = (tracked.provider_department_id, tracked.consumer_department_id)
        # Against the resolution it undoes: round n is undone by the n-th reopen.
        at = tracked.resolutions.get(event.reopen_count, event.reopened_at)
        inc, open_since = {"reopened": 1}, event.reopened_at
    else:
        pair = (tracked.provider_department_id, tracked.consumer_department_id)
        name, at = _ended_at(event)
        inc, open_since = {name: 1}, None
    await deps.matrix.count(
        event_id=envelope.event_id, at=at, provider=pair[0], consumer=pair[1], inc=inc
    )
    await deps.matrix.track(
        event.request_id,
        sequence=sequence,
        provider=pair[0],
        consumer=pair[1],
        open_since=open_since,
        resolution=(
            (event.reopen_count + 1, event.resolved_at)
            if isinstance(event, RequestResolved)
            else None
        ),
    )


async def _cells(kind: PeriodKind, key: str, deps: Deps) -> tuple[float | None, list[MatrixCell]]:
    mean = await org_mean(kind, key, deps)
    ratings: dict[Pair, Score] = {}
    for stored in await deps.scores.cells(kind, key, Level.PAIR):
        assert stored.consumer_department_id is not None  # a pair cell names both sides
        pair = (stored.provider_department_id, stored.consumer_department_id)
        ratings[pair] = score_of_cell(stored, mean, deps)
    counts = await deps.matrix.counts(kind, key)
    open_now = await deps.matrix.open_now()
    return mean, cells_of(counts, ratings, open_now, deps.clock())


def _within(cells: list[MatrixCell], department_id: str | None) -> list[MatrixCell]:
    if department_id is None:
        return cells
    return [
        c for c in cells if department_id in (c.provider_department_id, c.consumer_department_id)
    ]


async def department_matrix(
    kind: PeriodKind, key: str, *, member: Member, deps: Deps
) -> tuple[float | None, list[MatrixCell]]:
    """Every pair the caller may see, with the organisation's mean rating of the period."""
    check_period(kind, key)
    mean, cells = await _cells(kind, key, deps)
    return mean, _within(cells, matrix_scope(member))


async def reciprocity(
    department_id: str, kind: PeriodKind, key: str, *, member: Member, deps: Deps
) -> Reciprocity:
    check_period(kind, key)
    check_matrix_reader(member, department_id)
    _, cells = await _cells(kind, key, deps)
    return reciprocity_of(department_id, _within(cells, department_id))
