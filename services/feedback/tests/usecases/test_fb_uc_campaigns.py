"""Campaigns on fakes: invitees are exactly the people served, one answer each, thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icr.contracts.feedback import CampaignClosed, EvaluationSubmitted, Question
from icr.feedback.domain.errors import Conflict, Forbidden
from icr.feedback.domain.rating import Resolution
from icr.feedback.handlers.campaigns import (
    NewCampaign,
    campaign_results,
    close_campaign,
    invitees,
    my_invitations,
    open_campaign,
    submit_evaluation,
)
from icr.feedback.handlers.invitations import invite_when_request_resolved
from icr.feedback.testing import T0, FakeWorld, in_memory, member

ROOT = member("root", "it", "admin")
IVY = member("ivy", "it", "manager")
QUESTIONS = [
    Question(question_id="quality", kind="scale", text={"en": "Quality?"}),
    Question(question_id="nps", kind="nps", text={"en": "Recommend?"}),
    Question(question_id="say", kind="text", text={"en": "Anything else?"}),
]
# Who asked whom: sales people served by IT, one HR person by IT and by Sales, one IT person by
# IT itself (not an internal customer), and one served by IT before the period.
SERVED = [
    ("ana", "sales", "it", 1),
    ("cy", "sales", "it", 2),
    ("eli", "sales", "it", 3),
    ("dan", "hr", "it", 4),
    ("dan", "hr", "sales", 5),
    ("bo", "it", "it", 6),
    ("old", "sales", "it", -40),
]


async def served_world(threshold: int = 3) -> tuple[FakeWorld, str]:
    world = in_memory()
    for n, (person, dept, provider, day) in enumerate(SERVED):
        await invite_when_request_resolved(
            Resolution(f"r{n}", 1, person, dept, provider, None, T0 + timedelta(days=day)),
            deps=world.deps,
        )
    new = NewCampaign("Q4", T0, T0 + timedelta(days=30), QUESTIONS, threshold)
    campaign = await open_campaign(new, member=ROOT, deps=world.deps)
    world.outbox.take()
    return world, campaign.campaign_id


async def answer(world: FakeWorld, cid: str, who: str, dept: str, provider: str, q: int) -> None:
    await submit_evaluation(
        cid,
        provider,
        {"quality": q, "nps": 10},
        {"say": f"quality {q}"},
        member=member(who, dept),
        deps=world.deps,
    )


async def test_invitees_are_exactly_the_people_each_department_served_in_the_period() -> None:
    world, cid = await served_world()
    assert await invitees(cid, member=ROOT, deps=world.deps) == {
        "it": ["ana", "cy", "dan", "eli"],
        "sales": ["dan"],
    }
    assert await my_invitations(cid, member=member("dan", "hr"), deps=world.deps) == ["it", "sales"]
    with pytest.raises(Forbidden):
        await invitees(cid, member=IVY, deps=world.deps)


async def test_only_people_served_may_answer_and_only_once_per_department() -> None:
    world, cid = await served_world()
    with pytest.raises(Forbidden):
        await answer(world, cid, "old", "sales", "it", 4)  # served before the period
    with pytest.raises(Forbidden):
        await answer(world, cid, "bo", "it", "it", 5)  # own department
    await answer(world, cid, "ana", "sales", "it", 4)
    with pytest.raises(Conflict):
        await answer(world, cid, "ana", "sales", "it", 1)
    [event] = world.outbox.events
    assert isinstance(event, EvaluationSubmitted)
    assert "ana" not in event.model_dump_json()  # the event never names the respondent


async def test_results_are_hidden_below_the_threshold_and_answers_after_close_refused() -> None:
    world, cid = await served_world(threshold=3)
    await answer(world, cid, "ana", "sales", "it", 4)
    await answer(world, cid, "cy", "sales", "it", 2)
    below = await campaign_results(cid, member=ROOT, deps=world.deps)
    assert below.groups == []
    assert below.comments == {}
    await answer(world, cid, "dan", "hr", "it", 3)
    closed = await close_campaign(cid, member=ROOT, deps=world.deps)
    # IT reached three respondents; the Sales-to-IT pair (two) and HR-to-IT (one) stay hidden.
    assert [(g.provider_department_id, g.consumer_department_id) for g in closed.results] == [
        ("it", None)
    ]
    assert closed.results[0].averages == {"quality": 3.0}
    assert closed.results[0].nps == 100.0
    [event] = [e for e in world.outbox.events if isinstance(e, CampaignClosed)]
    assert event.results == closed.results
    with pytest.raises(Conflict, match="closed"):
        await answer(world, cid, "eli", "sales", "it", 5)
    managers_view = await campaign_results(cid, member=IVY, deps=world.deps, department_id="it")
    assert managers_view.comments == {"it": ["quality 2", "quality 3", "quality 4"]}
    with pytest.raises(Forbidden):
        await campaign_results(cid, member=IVY, deps=world.deps, department_id="sales")


async def test_only_admins_open_and_close_campaigns() -> None:
    world, cid = await served_world()
    with pytest.raises(Forbidden):
        await close_campaign(cid, member=IVY, deps=world.deps)
    with pytest.raises(Forbidden):
        await open_campaign(
            NewCampaign("x", T0, T0 + timedelta(days=1), QUESTIONS), member=IVY, deps=world.deps
        )


async def test_a_campaign_counts_against_the_invitees_fatigue_cap() -> None:
    world = in_memory(invitation_cap=2)
    await invite_when_request_resolved(
        Resolution("r-a", 1, "ana", "sales", "it", None, T0), deps=world.deps
    )
    new = NewCampaign("Q4", T0 - timedelta(days=1), T0 + timedelta(days=1), QUESTIONS)
    await open_campaign(new, member=ROOT, deps=world.deps)  # Ana's second survey this month
    await invite_when_request_resolved(
        Resolution("r-b", 1, "ana", "sales", "it", None, T0), deps=world.deps
    )
    skipped = world.outbox.events[-1]
    assert skipped.event_type == "feedback.rating.skipped"
    assert getattr(skipped, "reason", None) == "fatigue_cap"


async def test_an_open_campaign_shows_no_results_so_reads_in_turn_cannot_isolate_an_answer() -> (
    None
):
    # Results read after the third answer and again after the fourth would differ by exactly
    # the fourth person's answers (and their new comment): nothing is shown until the close.
    world, cid = await served_world(threshold=3)
    for who, dept, q in (("ana", "sales", 4), ("cy", "sales", 2), ("dan", "hr", 3)):
        await answer(world, cid, who, dept, "it", q)
    live = await campaign_results(cid, member=ROOT, deps=world.deps)
    assert (live.groups, live.comments) == ([], {})
    managers_live = await campaign_results(cid, member=IVY, deps=world.deps, department_id="it")
    assert (managers_live.groups, managers_live.comments) == ([], {})
    await answer(world, cid, "eli", "sales", "it", 5)
    await close_campaign(cid, member=ROOT, deps=world.deps)
    closed = await campaign_results(cid, member=ROOT, deps=world.deps)
    assert [(g.provider_department_id, g.respondents) for g in closed.groups] == [("it", 4)]
    assert closed.comments == {"it": ["quality 2", "quality 3", "quality 4", "quality 5"]}
