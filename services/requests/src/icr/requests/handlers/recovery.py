"""Service recovery: a low rating in the feedback service opens a request to the provider
department's manager, with recovery targets of its own.

Decisions:
- The recovery request's id comes from the `RecoveryNeeded` event (the feedback service derives
  it from the rated request), so however often Kafka delivers the event, the second insert
  finds the first and nothing more happens: one recovery request per rating.
- Its requester is the unhappy requester (they are who the manager reaches out to, and they
  see the conversation); its provider is the rated department; it is assigned at once to the
  department's manager, or left in the department's queue when it has none.
- It is not a catalog item anyone can order: the item is built here, never published, with
  the recovery targets (`RECOVERY_*` settings) for every priority, and the request is `high`.
- `RequestSubmitted.recovery_for_request_id` names the rated request, so other services can
  tell recovery work apart; the feedback service links the resolution back by the id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from icr.contracts.feedback import RecoveryNeeded
from icr.contracts.requests import RequestSubmitted
from icr.requests.domain.catalog import CatalogItem, Priority, Targets
from icr.requests.domain.request import ServiceRequest
from icr.requests.domain.timeline import SYSTEM
from icr.requests.handlers.deps import Deps

log = logging.getLogger(__name__)

RECOVERY_ITEM_ID = "service-recovery"
_NAMESPACE = uuid.UUID("5b0f3c1e-8a45-4d0e-9a43-2f6c1f0d9e11")


def recovery_id(event: RecoveryNeeded) -> str:
    """The event's id for the request, or the same derivation the feedback service uses."""
    return event.recovery_request_id or str(uuid.uuid5(_NAMESPACE, f"recovery:{event.request_id}"))


def recovery_item(provider_department_id: str, targets: Targets) -> CatalogItem:
    return CatalogItem(
        id=RECOVERY_ITEM_ID,
        version=1,
        provider_department_id=provider_department_id,
        name={"en": "Service recovery", "zh-CN": "服务补救"},
        owning_team="management",
        targets=dict.fromkeys(Priority, targets),
        default_priority=Priority.HIGH,
    )


async def open_recovery_request(event: RecoveryNeeded, *, deps: Deps) -> ServiceRequest | None:
    """Opens the recovery request for a low rating; None when it exists already."""
    request_id = recovery_id(event)
    if await deps.requests.get(request_id) is not None:
        return None
    provider = await deps.directory.department(event.provider_department_id)
    if provider is None:
        # Retried by the consumer, then dead-lettered: a rated department we do not know is a
        # directory out of step, not something to guess around.
        raise LookupError(f"department {event.provider_department_id} is not in the directory")
    settings = deps.settings
    targets = Targets(
        first_response=timedelta(hours=settings.recovery_first_response_hours),
        resolution=timedelta(hours=settings.recovery_resolution_hours),
    )
    at = deps.clock()
    comment = f"\n\nTheir comment: {event.comment}" if event.comment else ""
    request = ServiceRequest.submit(
        request_id=request_id,
        title=f"Service recovery: request {event.request_id} was rated {event.stars}/5",
        item=recovery_item(event.provider_department_id, targets),
        requester_id=event.rater_id,
        requester_department_id=event.rater_department_id,
        form={},
        calendar=provider.value.calendar,
        at=at,
        priority=Priority.HIGH,
        description=(
            f"{event.rater_id} rated request {event.request_id} {event.stars} of 5. "
            f"Please get in touch and put things right.{comment}"
        )[:4000],
    )
    manager = provider.value.manager_id
    if manager:
        request.assign(by=SYSTEM, at=at, assignee_id=manager)
    events = request.pull_events()
    for recorded in events:
        if isinstance(recorded, RequestSubmitted):
            recorded = recorded.model_copy(update={"recovery_for_request_id": event.request_id})
        request.record(recorded)
    try:
        await deps.requests.add(request)
    except DuplicateKeyError:
        return None  # a concurrent delivery opened it a moment ago
    log.info(
        "recovery request opened",
        extra={"request_id": request_id, "rated_request_id": event.request_id},
    )
    return request
