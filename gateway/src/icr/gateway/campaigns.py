"""Evaluation campaigns, from the feedback service: the questionnaire, the departments the caller
may evaluate, results (only groups above the anonymity threshold), and the campaign mutations
(openCampaign, closeCampaign, answerCampaign), each a union of the result and typed problems."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.directory import Department, department, localized
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from

Info = strawberry.Info[Context, None]


@strawberry.enum
class QuestionKind(Enum):
    SCALE = "scale"
    NPS = "nps"
    TEXT = "text"


@strawberry.enum
class CampaignStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.type
class Question:
    id: strawberry.ID
    kind: QuestionKind = strawberry.field(
        description="SCALE: 1 to 5; NPS: 0 to 10 (how likely to recommend); TEXT: free text."
    )
    texts: JSON = strawberry.field(description="The question per locale.")

    @strawberry.field(description="The question in a locale (English if it has none there).")
    def text(self, locale: str = "en") -> str:
        return localized(self.texts, locale)


@strawberry.type
class QuestionAverage:
    question_id: strawberry.ID
    average: float


@strawberry.type
class GroupResult:
    """A provider department's results, or one (provider, consumer department) pair's."""

    respondents: int
    averages: list[QuestionAverage]
    nps: float | None
    provider_department_id: strawberry.Private[str]
    consumer_department_id: strawberry.Private[str | None]

    @classmethod
    def from_json(cls, row: Json) -> GroupResult:
        return cls(
            respondents=row["respondents"],
            averages=[
                QuestionAverage(question_id=strawberry.ID(q), average=a)
                for q, a in sorted((row.get("averages") or {}).items())
            ],
            nps=row.get("nps"),
            provider_department_id=row["provider_department_id"],
            consumer_department_id=row.get("consumer_department_id"),
        )

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.provider_department_id)

    @strawberry.field(description="Null for the department as a whole.")
    async def consumer_department(self, info: Info) -> Department | None:
        return await department(info, self.consumer_department_id)


@strawberry.type
class DepartmentComments:
    comments: list[str] = strawberry.field(description="Free-text answers, sorted, never named.")
    department_id: strawberry.Private[str]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.department_id)


@strawberry.type
class CampaignResults:
    """Only groups with at least `threshold` respondents; live while open, frozen when closed."""

    status: CampaignStatus
    threshold: int
    groups: list[GroupResult]
    comments: list[DepartmentComments]


@strawberry.type
class Campaign:
    id: strawberry.ID
    name: str
    period_start: datetime
    period_end: datetime
    questions: list[Question]
    threshold: int
    status: CampaignStatus
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_json(cls, row: Json) -> Campaign:
        return cls(
            id=strawberry.ID(row["campaign_id"]),
            name=row["name"],
            period_start=datetime.fromisoformat(row["period_start"]),
            period_end=datetime.fromisoformat(row["period_end"]),
            questions=[
                Question(
                    id=strawberry.ID(q["question_id"]),
                    kind=QuestionKind(q["kind"]),
                    texts=JSON(q["text"]),
                )
                for q in row["questions"]
            ],
            threshold=row["threshold"],
            status=CampaignStatus(row["status"]),
            opened_at=datetime.fromisoformat(row["opened_at"]),
            closed_at=datetime.fromisoformat(row["closed_at"]) if row.get("closed_at") else None,
        )

    def _path(self, tail: str = "") -> str:
        return f"/campaigns/{segment(str(self.id))}{tail}"

    @strawberry.field(description="The departments the caller may evaluate in this campaign.")
    async def departments_to_evaluate(self, info: Info) -> list[Department]:
        found = await _call(info, "GET", self._path("/invitations"))
        rows = await info.context.loaders.departments.load_many(found["departments"])
        return [Department.from_json(r) for r in rows if r]

    @strawberry.field(
        description="Results once the campaign is closed, for groups above the anonymity "
        "threshold: admins see every department, a department's manager and agents their own "
        "(pass `departmentId`)."
    )
    async def results(
        self, info: Info, department_id: strawberry.ID | None = None
    ) -> CampaignResults:
        params = {"department": str(department_id)} if department_id else None
        found = await _call(info, "GET", self._path("/results"), params=params)
        return CampaignResults(
            status=CampaignStatus(found["status"]),
            threshold=found["threshold"],
            groups=[GroupResult.from_json(g) for g in found["groups"]],
            comments=[
                DepartmentComments(comments=texts, department_id=d)
                for d, texts in found["comments"].items()
            ],
        )


async def _call(info: Info, method: str, path: str, **kwargs: Any) -> Any:
    return await info.context.clients.feedback.call(
        method, path, token=info.context.token(), **kwargs
    )


@strawberry.type
class CampaignsQuery:
    @strawberry.field(description="Recent campaigns, newest first.")
    async def campaigns(self, info: Info, first: int = 20) -> list[Campaign] | None:
        return [
            Campaign.from_json(c)
            for c in await _call(info, "GET", "/campaigns", params={"limit": first})
        ]

    @strawberry.field(description="A campaign by id.")
    async def campaign(self, info: Info, id: strawberry.ID) -> Campaign | None:
        try:
            found = await _call(info, "GET", f"/campaigns/{segment(str(id))}")
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise
        return Campaign.from_json(found)


@strawberry.input
class QuestionInput:
    id: strawberry.ID
    kind: QuestionKind
    texts: JSON = strawberry.field(description='The question per locale, e.g. {"en": "..."}.')


@strawberry.input
class CampaignInput:
    name: str
    period_start: datetime = strawberry.field(description="Who was served from here on ...")
    period_end: datetime = strawberry.field(description="... until here is invited.")
    questions: list[QuestionInput]
    threshold: int | None = strawberry.field(
        default=None, description="Respondents a result needs; default ANONYMITY_THRESHOLD."
    )


@strawberry.input
class ScoreAnswer:
    question_id: strawberry.ID
    score: int


@strawberry.input
class TextAnswer:
    question_id: strawberry.ID
    text: str


@strawberry.input
class EvaluationInput:
    provider_department_id: strawberry.ID
    scores: list[ScoreAnswer] = strawberry.field(default_factory=list)
    texts: list[TextAnswer] = strawberry.field(default_factory=list)


@strawberry.type
class EvaluationRecorded:
    """The answer is stored, without the respondent's name."""

    campaign_id: strawberry.ID
    provider_department_id: strawberry.ID


CampaignResult = Annotated[
    Campaign | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("CampaignResult", description="The campaign as it is now, or why not."),
]
EvaluationResult = Annotated[
    EvaluationRecorded | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("EvaluationResult", description="The answer recorded, or why not."),
]


async def _campaign(info: Info, method: str, path: str, body: Any = None) -> CampaignResult:
    try:
        return Campaign.from_json(await _call(info, method, path, json=body))
    except UpstreamError as error:
        return problem_from(error)


@strawberry.type
class CampaignsMutation:
    @strawberry.mutation(description="Administrators: open an evaluation campaign.")
    async def open_campaign(self, info: Info, input: CampaignInput) -> CampaignResult:
        body = {
            "name": input.name,
            "period_start": input.period_start.isoformat(),
            "period_end": input.period_end.isoformat(),
            "questions": [
                {"question_id": str(q.id), "kind": q.kind.value, "text": q.texts}
                for q in input.questions
            ],
            "threshold": input.threshold,
        }
        return await _campaign(info, "POST", "/campaigns", body)

    @strawberry.mutation(description="Administrators: close a campaign (freezes its results).")
    async def close_campaign(self, info: Info, campaign_id: strawberry.ID) -> CampaignResult:
        return await _campaign(info, "POST", f"/campaigns/{segment(str(campaign_id))}/close")

    @strawberry.mutation(description="A person the department served: answer its questionnaire.")
    async def answer_campaign(
        self, info: Info, campaign_id: strawberry.ID, input: EvaluationInput
    ) -> EvaluationResult:
        body = {
            "provider_department_id": str(input.provider_department_id),
            "scores": {str(a.question_id): a.score for a in input.scores},
            "texts": {str(a.question_id): a.text for a in input.texts},
        }
        try:
            await _call(
                info, "POST", f"/campaigns/{segment(str(campaign_id))}/evaluations", json=body
            )
        except UpstreamError as error:
            return problem_from(error)
        return EvaluationRecorded(
            campaign_id=campaign_id, provider_department_id=input.provider_department_id
        )
