"""Giving recognition, and crediting it to the recipient's ledger from its event."""

from __future__ import annotations

from dataclasses import dataclass

from icr.contracts import new_id
from icr.contracts.incentives import RecognitionGiven
from icr.incentives.domain.errors import InvalidInput
from icr.incentives.domain.ledger import Entry, Kind
from icr.incentives.domain.periods import month_of
from icr.incentives.domain.recognition import Gift, GivingAllowance, allowance_id, check_gift
from icr.incentives.handlers.deps import Deps, retrying
from icr.incentives.handlers.ledger import record_entry
from icr.kit.directory import Member


@dataclass(frozen=True)
class Recognition:
    recipient_id: str
    points: int
    message: str
    value: str


async def give_recognition(
    recognition: Recognition, *, giver: Member, deps: Deps
) -> tuple[Gift, GivingAllowance]:
    """Takes the points from the giver's allowance of this month and records the gift with its
    event in the same write; the ledger credit follows from the event."""
    now = deps.clock()
    policy = await deps.policies.in_effect(now)
    terms = policy.recognition
    recipient = await deps.people.person(recognition.recipient_id)
    if recipient is None or not recipient.active:
        raise InvalidInput.one("recipient_id", "unknown", "no such active person")
    gift = Gift(
        recognition_id=new_id(),
        giver_id=giver.person_id,
        giver_department_id=giver.department_id,
        recipient_id=recipient.person_id,
        recipient_department_id=recipient.department_id,
        points=recognition.points,
        message=recognition.message.strip(),
        value=recognition.value,
        given_at=now,
    )
    check_gift(gift, terms)  # bad input is refused before the allowance is read

    async def attempt() -> GivingAllowance:
        known = await deps.allowances.get(allowance_id(giver.person_id, month_of(now)))
        if known is None:
            allowance = GivingAllowance.start(
                giver.person_id, allowance=terms.allowance_for(giver.roles), at=now
            )
            allowance.give(gift, terms)
            await deps.allowances.add(allowance)
            return allowance
        known.value.give(gift, terms)
        await deps.allowances.save(known)
        return known.value

    return gift, await retrying(deps, attempt)


async def allowance_of(member: Member, *, deps: Deps) -> GivingAllowance:
    """This month's allowance (a full one if nothing was given yet this month)."""
    now = deps.clock()
    known = await deps.allowances.get(allowance_id(member.person_id, month_of(now)))
    if known is not None:
        return known.value
    terms = (await deps.policies.in_effect(now)).recognition
    return GivingAllowance(member.person_id, month_of(now), terms.allowance_for(member.roles))


async def credit_recognition_when_given(
    event: RecognitionGiven, event_id: str, *, deps: Deps
) -> None:
    # The version whose recognition terms the gift was checked against, for the record.
    policy = await deps.policies.in_effect(event.given_at)
    await record_entry(
        Entry(
            account=event.recipient_id,
            department_id=event.recipient_department_id,
            amount=event.points,
            kind=Kind.RECOGNITION,
            reason=f"recognised by {event.giver_id} for {event.value}",
            source_event_id=event_id,
            rule_id="recognition",
            policy_version=policy.version,
            at=event.given_at,
            trigger="recognition",
        ),
        deps=deps,
    )
