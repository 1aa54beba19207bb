"""Evaluation campaigns: open, answer anonymously, close with results above the threshold."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from icr.contracts.feedback import EvaluationSubmitted, GroupResult, Question
from icr.feedback.domain.campaign import Answer, Campaign, CampaignStatus, results_of
from icr.feedback.domain.errors import Forbidden, NotFound
from icr.feedback.handlers.access import check_admin, check_department_reader
from icr.feedback.handlers.deps import Deps, retrying
from icr.feedback.store import Versioned, answer_key
from icr.kit.directory import Member
from icr.kit.periods import period_key


@dataclass(frozen=True)
class NewCampaign:
    name: str
    period_start: datetime
    period_end: datetime
    questions: list[Question]
    threshold: int | None = None


async def open_campaign(new: NewCampaign, *, member: Member, deps: Deps) -> Campaign:
    """Opens the campaign, and counts it against each invitee's fatigue cap (the cap is
    across all surveys); the cap never removes an invitee: they are the people served."""
    check_admin(member)
    campaign = Campaign.open(
        campaign_id=str(uuid.uuid4()),
        name=new.name,
        period_start=new.period_start,
        period_end=new.period_end,
        questions=new.questions,
        threshold=new.threshold or deps.settings.anonymity_threshold,
        by=member.person_id,
        at=deps.clock(),
    )
    await deps.campaigns.add(campaign)
    served = await deps.served.served_in(campaign.period_start, campaign.period_end)
    key = period_key(deps.policy.cap_period, campaign.opened_at)
    for person in sorted({p for people in served.values() for p in people}):
        # Keyed by the campaign, so opening it counts once per person whatever is retried.
        await deps.caps.take(person, key, f"campaign:{campaign.campaign_id}", sys.maxsize)
    return campaign


async def _campaign(campaign_id: str, deps: Deps) -> Versioned[Campaign]:
    loaded = await deps.campaigns.get(campaign_id)
    if loaded is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return loaded


async def get_campaign(campaign_id: str, *, member: Member, deps: Deps) -> Campaign:
    return (await _campaign(campaign_id, deps)).value


async def list_campaigns(*, member: Member, deps: Deps, limit: int) -> list[Campaign]:
    return await deps.campaigns.recent(limit)


async def my_invitations(campaign_id: str, *, member: Member, deps: Deps) -> list[str]:
    """The departments the caller may evaluate in this campaign: those that served them."""
    campaign = (await _campaign(campaign_id, deps)).value
    served = await deps.served.providers_for(
        member.person_id, campaign.period_start, campaign.period_end
    )
    return [d for d in served if d != member.department_id]


async def invitees(campaign_id: str, *, member: Member, deps: Deps) -> dict[str, list[str]]:
    """Provider department -> the people it served in the period (administrators only)."""
    check_admin(member)
    campaign = (await _campaign(campaign_id, deps)).value
    return await deps.served.served_in(campaign.period_start, campaign.period_end)


async def submit_evaluation(
    campaign_id: str,
    department_id: str,
    scores: Mapping[str, int],
    texts: Mapping[str, str],
    *,
    member: Member,
    deps: Deps,
) -> None:
    """One anonymous answer about one department; only from a person it served in the period,
    once; refused once the campaign is closed."""
    campaign = (await _campaign(campaign_id, deps)).value
    campaign.check_open()
    clean_scores, clean_texts = campaign.clean_answers(scores, texts)
    served_as = await deps.served.was_served(
        member.person_id, department_id, campaign.period_start, campaign.period_end
    )
    if served_as is None or department_id == member.department_id:
        raise Forbidden(f"{department_id} did not serve you in this campaign's period")
    now = deps.clock()
    key = answer_key(deps.settings.answer_key_secret, campaign_id, department_id, member.person_id)
    answer = Answer(campaign_id, department_id, served_as, clean_scores, clean_texts, now)
    nps_q = campaign.nps_question
    event = EvaluationSubmitted(
        evaluation_id=key,
        campaign_id=campaign_id,
        provider_department_id=department_id,
        respondent_department_id=served_as,
        period_start=campaign.period_start,
        scores=clean_scores,
        texts=clean_texts,
        nps_score=clean_scores.get(nps_q) if nps_q else None,
        submitted_at=now,
    )
    await deps.campaigns.add_answer(key, answer, event)


async def close_campaign(campaign_id: str, *, member: Member, deps: Deps) -> Campaign:
    check_admin(member)

    async def attempt() -> Campaign:
        loaded = await _campaign(campaign_id, deps)
        answers = await deps.campaigns.answers(campaign_id)
        loaded.value.close(by=member.person_id, at=deps.clock(), answers=answers)
        await deps.campaigns.save(loaded)
        return loaded.value

    return await retrying(deps, attempt)


@dataclass(frozen=True)
class Results:
    campaign: Campaign
    groups: list[GroupResult]
    comments: dict[str, list[str]]
    """Provider department -> free-text answers, only for departments above the threshold,
    sorted (so their order says nothing about who answered when)."""


async def campaign_results(
    campaign_id: str, *, member: Member, deps: Deps, department_id: str | None = None
) -> Results:
    """Results of a closed campaign, above the threshold only; admins see every department,
    a department's manager and agents their own. An open campaign shows none: two reads a few
    answers apart would differ by exactly those answers (and their comments)."""
    campaign = (await _campaign(campaign_id, deps)).value
    if department_id is None:
        check_admin(member)
    else:
        check_department_reader(member, department_id)
    if campaign.status is CampaignStatus.OPEN:
        return Results(campaign, [], {})
    answers = await deps.campaigns.answers(campaign_id, department_id)
    groups = results_of(campaign, answers)
    shown = {g.provider_department_id for g in groups if g.consumer_department_id is None}
    comments: dict[str, list[str]] = {}
    for answer in answers:
        if answer.provider_department_id in shown:
            comments.setdefault(answer.provider_department_id, []).extend(answer.texts.values())
    return Results(campaign, groups, {d: sorted(t) for d, t in sorted(comments.items())})
