"""Submitting a request, on its own or as a sub-request of another."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from icr.requests.domain.access import Actor, authorize
from icr.requests.domain.catalog import CatalogItem, Priority
from icr.requests.domain.errors import Conflict, FieldError, Forbidden, FormInvalid, NotFound
from icr.requests.domain.forms import PersonField
from icr.requests.domain.lifecycle import Action, check_transition
from icr.requests.domain.request import ServiceRequest
from icr.requests.handlers.deps import Deps
from icr.requests.handlers.reads import RequestView, load_visible, view_of
from icr.requests.handlers.subrequests import link_child, withdraw_child


@dataclass(frozen=True)
class Submission:
    catalog_item_id: str
    title: str
    form: Mapping[str, Any] = field(default_factory=dict)
    priority: str | None = None
    description: str = ""
    parent_id: str | None = None


async def submit_request(submission: Submission, *, actor: Actor, deps: Deps) -> RequestView:
    """Validate the form field by field against the current catalog version and open the
    request with both SLA clocks running on the provider's calendar."""
    if not actor.department_id:
        raise Forbidden("only people in the directory may submit requests")
    if submission.parent_id is not None:
        # Raising a sub-request is the parent's provider side's job, while it is being worked.
        parent = await load_visible(submission.parent_id, actor, deps)
        authorize(actor, parent.value, Action.SUBREQUEST)
        check_transition(Action.SUBREQUEST, parent.value.status)
    item = await deps.catalog.current(submission.catalog_item_id)
    if item is None:
        raise NotFound(f"catalog item {submission.catalog_item_id} not found")
    errors: list[FieldError] = []
    priority = None
    if submission.priority is not None:
        try:
            priority = Priority(submission.priority)
        except ValueError:
            choices = ", ".join(Priority)
            errors.append(FieldError("priority", "invalid_choice", f"must be one of {choices}"))
    provider = await deps.directory.department(item.provider_department_id)
    if provider is None:
        raise Conflict(f"the provider department {item.provider_department_id} is not set up")
    known_people = await deps.directory.person_ids(_people_named(item, submission.form))
    try:
        request = ServiceRequest.submit(
            request_id=str(uuid.uuid4()),
            title=submission.title,
            item=item,
            requester_id=actor.person_id,
            requester_department_id=actor.department_id,
            form=submission.form,
            calendar=provider.value.calendar,
            at=deps.clock(),
            priority=priority,
            description=submission.description,
            parent_id=submission.parent_id,
            known_people=known_people,
        )
    except FormInvalid as exc:
        raise FormInvalid(errors + exc.errors) from None
    if errors:
        raise FormInvalid(errors)
    await deps.requests.add(request)
    if submission.parent_id is not None:
        try:
            await link_child(submission.parent_id, request.id, by=actor.person_id, deps=deps)
        except Conflict:
            # The parent moved on (say, resolved) between our check and the child's insert:
            # the child must not stay open under it.
            await withdraw_child(request.id, "the parent request was closed meanwhile", deps=deps)
            raise
    return view_of(request, actor, deps.clock(), children=[])  # new: it has no children yet


def _people_named(item: CatalogItem, form: Mapping[str, Any]) -> set[str]:
    """Person ids the form names, to check they exist in one query."""
    names = {f.name for f in item.fields if isinstance(f, PersonField)}
    return {v.strip() for k, v in form.items() if k in names and isinstance(v, str)}
