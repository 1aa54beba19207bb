"""Evaluation campaigns: a short questionnaire about each provider department, answered
anonymously by the people it served in the period.

Decisions:
- Invitees of a department are the people whose requests to it were resolved within
  [period_start, period_end), not counting its own members (nobody evaluates their own
  department). They are read from the service's projection of request events when a person
  answers or an admin lists them, so a late event still counts.
- An answer is stored under a keyed hash of (campaign, department, person): that key makes a
  second answer a conflict, and neither the answer nor its event names the person.
- Results are computed per department and per (department, consumer department) pair, and a
  group is shown only with at least `threshold` distinct respondents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from icr.contracts import Event
from icr.contracts.feedback import CampaignClosed, CampaignOpened, GroupResult, Question
from icr.feedback.domain.anonymity import shown_parts
from icr.feedback.domain.errors import Conflict, FieldError, InvalidInput
from icr.feedback.domain.scores import nps

MAX_QUESTIONS = 10
MAX_TEXT = 2000
SCALE = {"scale": (1, 5), "nps": (0, 10)}


class QuestionKind(StrEnum):
    SCALE = "scale"
    NPS = "nps"
    TEXT = "text"


class CampaignStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Answer:
    """One person's answers about one department, as stored: no person in it."""

    campaign_id: str
    provider_department_id: str
    respondent_department_id: str
    scores: dict[str, int]
    texts: dict[str, str]
    submitted_at: datetime


@dataclass(eq=False)
class Campaign:
    campaign_id: str
    name: str
    period_start: datetime
    period_end: datetime
    questions: list[Question]
    threshold: int
    opened_by: str
    opened_at: datetime
    status: CampaignStatus = CampaignStatus.OPEN
    closed_at: datetime | None = None
    results: list[GroupResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def open(
        cls,
        *,
        campaign_id: str,
        name: str,
        period_start: datetime,
        period_end: datetime,
        questions: list[Question],
        threshold: int,
        by: str,
        at: datetime,
    ) -> Campaign:
        errors: list[FieldError] = []
        if not name.strip():
            errors.append(FieldError("name", "required", "must not be empty"))
        if period_end <= period_start:
            errors.append(FieldError("period_end", "before_start", "must be after period_start"))
        if not questions or len(questions) > MAX_QUESTIONS:
            errors.append(
                FieldError("questions", "count", f"must hold 1 to {MAX_QUESTIONS} questions")
            )
        ids = [q.question_id for q in questions]
        if len(set(ids)) != len(ids):
            errors.append(FieldError("questions", "duplicate", "question ids must be unique"))
        for q in questions:
            if q.kind not in set(QuestionKind):
                errors.append(
                    FieldError(
                        f"questions.{q.question_id}.kind", "invalid_choice", "scale, nps or text"
                    )
                )
        if sum(q.kind == QuestionKind.NPS for q in questions) > 1:
            errors.append(FieldError("questions", "nps", "at most one nps question"))
        if threshold < 2:
            errors.append(FieldError("threshold", "too_small", "must be at least 2"))
        if errors:
            raise InvalidInput(errors)
        campaign = cls(
            campaign_id,
            name.strip(),
            period_start,
            period_end,
            list(questions),
            threshold,
            by,
            at,
        )
        campaign.events.append(
            CampaignOpened(
                campaign_id=campaign_id,
                name=campaign.name,
                period_start=period_start,
                period_end=period_end,
                questions=campaign.questions,
                threshold=threshold,
                opened_by=by,
                opened_at=at,
            )
        )
        return campaign

    def check_open(self) -> None:
        if self.status is not CampaignStatus.OPEN:
            raise Conflict("the campaign is closed; answers are no longer accepted")

    def clean_answers(
        self, scores: Mapping[str, int], texts: Mapping[str, str]
    ) -> tuple[dict[str, int], dict[str, str]]:
        """Answers checked against the questionnaire: every scale question answered in range,
        text optional and length-limited, no unknown question."""
        errors: list[FieldError] = []
        kinds = {q.question_id: q.kind for q in self.questions}
        for qid in [*scores, *texts]:
            if qid not in kinds:
                errors.append(FieldError(f"answers.{qid}", "unknown", "no such question"))
        clean_scores: dict[str, int] = {}
        clean_texts: dict[str, str] = {}
        for qid, kind in kinds.items():
            if kind == QuestionKind.TEXT:
                if qid in scores:
                    errors.append(FieldError(f"answers.{qid}", "type", "expects text"))
                value = texts.get(qid, "").strip()
                if len(value) > MAX_TEXT:
                    errors.append(FieldError(f"answers.{qid}", "too_long", f"max {MAX_TEXT}"))
                elif value:
                    clean_texts[qid] = value
                continue
            low, high = SCALE[kind]
            score = scores.get(qid)
            if score is None:
                errors.append(FieldError(f"answers.{qid}", "required", "must be answered"))
            elif isinstance(score, bool) or not low <= score <= high:
                errors.append(
                    FieldError(f"answers.{qid}", "out_of_range", f"must be {low} to {high}")
                )
            else:
                clean_scores[qid] = score
        if errors:
            raise InvalidInput(errors)
        return clean_scores, clean_texts

    @property
    def nps_question(self) -> str | None:
        return next((q.question_id for q in self.questions if q.kind == QuestionKind.NPS), None)

    def close(self, *, by: str, at: datetime, answers: Iterable[Answer]) -> None:
        self.check_open()
        self.status, self.closed_at = CampaignStatus.CLOSED, at
        self.results = results_of(self, answers)
        self.events.append(
            CampaignClosed(
                campaign_id=self.campaign_id,
                closed_by=by,
                closed_at=at,
                threshold=self.threshold,
                results=self.results,
            )
        )

    def pull_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events


def results_of(campaign: Campaign, answers: Iterable[Answer]) -> list[GroupResult]:
    """Averages per scale question and NPS per department and per pair, for the groups with
    at least the threshold of respondents (each answer is one distinct respondent: the store
    admits one per person and department)."""
    groups: dict[tuple[str, str | None], list[Answer]] = defaultdict(list)
    for answer in answers:
        groups[(answer.provider_department_id, None)].append(answer)
        groups[(answer.provider_department_id, answer.respondent_department_id)].append(answer)
    scale = [q.question_id for q in campaign.questions if q.kind == QuestionKind.SCALE]
    nps_q = campaign.nps_question
    shown = _shown_groups({g: len(m) for g, m in groups.items()}, campaign.threshold)
    out = []
    for (provider, consumer), members in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1] or "")
    ):
        if (provider, consumer) not in shown:
            continue
        averages = {
            q: round(sum(a.scores[q] for a in members if q in a.scores) / len(members), 3)
            for q in scale
        }
        score = nps([a.scores[nps_q] for a in members if nps_q in a.scores]) if nps_q else None
        out.append(
            GroupResult(
                provider_department_id=provider,
                consumer_department_id=consumer,
                respondents=len(members),
                averages=averages,
                nps=score,
            )
        )
    return out


def _shown_groups(
    sizes: Mapping[tuple[str, str | None], int], threshold: int
) -> set[tuple[str, str | None]]:
    """The groups that may be shown: each at or above the threshold, and a department's pairs
    only as far as no hidden pair can be recovered from its total (see `anonymity`)."""
    shown: set[tuple[str, str | None]] = set()
    for (provider, consumer), n in sizes.items():
        if consumer is not None or n < threshold:
            continue
        shown.add((provider, None))
        pairs = {g: m for g, m in sizes.items() if g[0] == provider and g[1] is not None}
        shown |= shown_parts(pairs, threshold, {g: g[1] or "" for g in pairs})
    return shown
