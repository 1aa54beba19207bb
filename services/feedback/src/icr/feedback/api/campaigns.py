"""Campaign routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from icr.contracts.feedback import Question
from icr.feedback.api.deps import DepsDep, MemberDep
from icr.feedback.api.schemas import (
    CampaignIn,
    CampaignOut,
    EvaluationIn,
    Id,
    InvitationsOut,
    InviteesOut,
    ResultsOut,
)
from icr.feedback.handlers import campaigns
from icr.kit.strict import strict_query

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
CampaignId = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("", response_model=CampaignOut, status_code=201)
async def open_campaign(body: CampaignIn, deps: DepsDep, member: MemberDep) -> CampaignOut:
    new = campaigns.NewCampaign(
        name=body.name,
        period_start=body.period_start,
        period_end=body.period_end,
        questions=[Question(**q.model_dump()) for q in body.questions],
        threshold=body.threshold,
    )
    return CampaignOut.of(await campaigns.open_campaign(new, member=member, deps=deps))


@router.get("", response_model=list[CampaignOut], dependencies=[Depends(strict_query("limit"))])
async def list_campaigns(
    deps: DepsDep, member: MemberDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[CampaignOut]:
    found = await campaigns.list_campaigns(member=member, deps=deps, limit=limit)
    return [CampaignOut.of(c) for c in found]


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: CampaignId, deps: DepsDep, member: MemberDep) -> CampaignOut:
    return CampaignOut.of(await campaigns.get_campaign(campaign_id, member=member, deps=deps))


@router.post("/{campaign_id}/close", response_model=CampaignOut)
async def close_campaign(campaign_id: CampaignId, deps: DepsDep, member: MemberDep) -> CampaignOut:
    return CampaignOut.of(await campaigns.close_campaign(campaign_id, member=member, deps=deps))


@router.get("/{campaign_id}/invitations", response_model=InvitationsOut)
async def my_invitations(
    campaign_id: CampaignId, deps: DepsDep, member: MemberDep
) -> InvitationsOut:
    departments = await campaigns.my_invitations(campaign_id, member=member, deps=deps)
    return InvitationsOut(campaign_id=campaign_id, departments=departments)


@router.get("/{campaign_id}/invitees", response_model=InviteesOut)
async def invitees(campaign_id: CampaignId, deps: DepsDep, member: MemberDep) -> InviteesOut:
    found = await campaigns.invitees(campaign_id, member=member, deps=deps)
    return InviteesOut(campaign_id=campaign_id, invitees=found)


@router.post("/{campaign_id}/evaluations", status_code=204)
async def evaluate(
    campaign_id: CampaignId, body: EvaluationIn, deps: DepsDep, member: MemberDep
) -> None:
    await campaigns.submit_evaluation(
        campaign_id,
        body.provider_department_id,
        body.scores,
        body.texts,
        member=member,
        deps=deps,
    )


@router.get(
    "/{campaign_id}/results",
    response_model=ResultsOut,
    dependencies=[Depends(strict_query("department"))],
)
async def results(
    campaign_id: CampaignId,
    deps: DepsDep,
    member: MemberDep,
    department: Annotated[Id | None, Query()] = None,
) -> ResultsOut:
    found = await campaigns.campaign_results(
        campaign_id, member=member, deps=deps, department_id=department
    )
    return ResultsOut(
        campaign_id=campaign_id,
        status=found.campaign.status.value,
        threshold=found.campaign.threshold,
        groups=found.groups,
        comments=found.comments,
    )
