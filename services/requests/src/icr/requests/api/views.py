"""HTTP output shapes, built from domain objects and views (never from documents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from icr.requests.api.schemas import (
    CalendarIn,
    FieldIn,
    OlaIn,
    TargetsIn,
    field_from_domain,
)
from icr.requests.domain.catalog import CatalogItem, Priority
from icr.requests.domain.directory import Department, Person
from icr.requests.domain.request import ServiceRequest
from icr.requests.domain.sla import SlaSnapshot
from icr.requests.handlers.importing import ImportResult
from icr.requests.handlers.reads import RequestPage, RequestView

# --- directory ---------------------------------------------------------------------------------


class DepartmentOut(BaseModel):
    id: str
    name: dict[str, str]
    parent_id: str | None
    manager_id: str | None
    calendar: CalendarIn

    @classmethod
    def of(cls, d: Department) -> DepartmentOut:
        return cls(
            id=d.id,
            name=dict(d.name),
            parent_id=d.parent_id,
            manager_id=d.manager_id,
            calendar=CalendarIn.of(d.calendar),
        )


class PersonOut(BaseModel):
    id: str
    name: str
    department_id: str
    roles: list[str]
    locale: str
    active: bool

    @classmethod
    def of(cls, p: Person) -> PersonOut:
        return cls(
            id=p.id,
            name=p.name,
            department_id=p.department_id,
            roles=sorted(str(r) for r in p.roles),
            locale=p.locale,
            active=p.active,
        )


class ImportRowOut(BaseModel):
    row: int
    kind: str
    id: str
    result: str


class ImportOut(BaseModel):
    departments: dict[str, int]
    people: dict[str, int]
    rows: list[ImportRowOut]

    @classmethod
    def of(cls, result: ImportResult) -> ImportOut:
        return cls(
            departments=result.counts("department"),
            people=result.counts("person"),
            rows=[ImportRowOut(row=n, kind=k, id=i, result=r) for n, k, i, r in result.rows],
        )


# --- catalog -----------------------------------------------------------------------------------


class CatalogItemOut(BaseModel):
    id: str
    version: int
    provider_department_id: str
    name: dict[str, str]
    description: dict[str, str]
    owning_team: str
    fields: list[FieldIn]
    default_priority: str
    targets: dict[str, TargetsIn]
    ola: list[OlaIn]
    allow_resolve_with_open_children: bool
    active: bool
    published_at: datetime | None

    @classmethod
    def of(cls, item: CatalogItem) -> CatalogItemOut:
        return cls(
            id=item.id,
            version=item.version,
            provider_department_id=item.provider_department_id,
            name=dict(item.name),
            description=dict(item.description),
            owning_team=item.owning_team,
            fields=[field_from_domain(f) for f in item.fields],
            default_priority=str(item.default_priority),
            targets={str(p): TargetsIn.of(t) for p, t in item.targets.items()},
            ola=[
                OlaIn(
                    consumer_department_id=o.consumer_department_id,
                    effective_from=o.effective_from,
                    targets={Priority(p): TargetsIn.of(t) for p, t in o.targets.items()},
                )
                for o in item.ola
            ],
            allow_resolve_with_open_children=item.allow_resolve_with_open_children,
            active=item.active,
            published_at=item.published_at,
        )


# --- requests ----------------------------------------------------------------------------------


class ClockOut(BaseModel):
    target_seconds: int
    due_at: datetime | None
    elapsed_seconds: int
    remaining_seconds: int
    paused: bool
    stopped: bool
    breached: bool
    met: bool | None

    @classmethod
    def of(cls, s: SlaSnapshot) -> ClockOut:
        return cls(
            target_seconds=int(s.target.total_seconds()),
            due_at=s.due_at,
            elapsed_seconds=int(s.elapsed.total_seconds()),
            remaining_seconds=int(s.remaining.total_seconds()),
            paused=s.paused,
            stopped=s.stopped,
            breached=s.breached,
            met=s.met,
        )


class SlaOut(BaseModel):
    first_response: ClockOut
    resolution: ClockOut


class RequestOut(BaseModel):
    """A request in lists and batches: everything but the conversation and the history."""

    id: str
    title: str
    status: str
    priority: str
    catalog_item_id: str
    catalog_item_version: int
    requester_id: str
    requester_department_id: str
    provider_department_id: str
    owning_team: str
    assignee_id: str | None
    parent_id: str | None
    submitted_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    breached: bool
    sla: SlaOut
    allowed_actions: list[str]

    @classmethod
    def fields_of(cls, view: RequestView) -> dict[str, Any]:
        r, snap = view.request, view.request.sla(view.now)
        return {
            "id": r.id,
            "title": r.title,
            "status": str(r.status),
            "priority": str(r.priority),
            "catalog_item_id": r.catalog_item_id,
            "catalog_item_version": r.catalog_item_version,
            "requester_id": r.requester_id,
            "requester_department_id": r.requester_department_id,
            "provider_department_id": r.provider_department_id,
            "owning_team": r.owning_team,
            "assignee_id": r.assignee_id,
            "parent_id": r.parent_id,
            "submitted_at": r.submitted_at,
            "updated_at": r.updated_at,
            "first_response_due_at": r.first_response_due_at,
            "resolution_due_at": r.resolution_due_at,
            "breached": any(s.breached for s in snap.values()),
            "sla": SlaOut(**{str(k): ClockOut.of(s) for k, s in snap.items()}),
            "allowed_actions": [str(a) for a in view.actions],
        }

    @classmethod
    def of(cls, view: RequestView) -> RequestOut:
        return cls(**cls.fields_of(view))


class CommentOut(BaseModel):
    id: str
    author_id: str
    body: str
    at: datetime
    public: bool


class HistoryOut(BaseModel):
    actor_id: str
    action: str
    at: datetime
    details: dict[str, str]


class ChildOut(BaseModel):
    id: str
    title: str
    status: str
    provider_department_id: str

    @classmethod
    def of(cls, r: ServiceRequest) -> ChildOut:
        return cls(
            id=r.id,
            title=r.title,
            status=str(r.status),
            provider_department_id=r.provider_department_id,
        )


class RequestDetailOut(RequestOut):
    """One request with its form, conversation (notes only for the provider side), history
    and sub-requests."""

    description: str
    form: dict[str, Any]
    resolved_at: datetime | None
    resolution_note: str | None
    closed_at: datetime | None
    reason: str | None
    reopen_count: int
    comments: list[CommentOut]
    history: list[HistoryOut]
    children: list[ChildOut]

    @classmethod
    def of(cls, view: RequestView) -> RequestDetailOut:
        r = view.request
        return cls(
            **cls.fields_of(view),
            description=r.description,
            form={k: v.isoformat() if isinstance(v, date) else v for k, v in r.form.items()},
            resolved_at=r.resolved_at,
            resolution_note=r.resolution_note,
            closed_at=r.closed_at,
            reason=r.reason,
            reopen_count=r.reopen_count,
            comments=[
                CommentOut(id=c.id, author_id=c.author_id, body=c.body, at=c.at, public=c.public)
                for c in r.comments
                if c.public or view.notes_visible
            ],
            history=[
                HistoryOut(actor_id=h.actor_id, action=h.action, at=h.at, details=dict(h.details))
                for h in r.history
            ],
            children=[ChildOut.of(c) for c in view.children or []],
        )


class RequestPageOut(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: RequestPage) -> RequestPageOut:
        return cls(items=[RequestOut.of(v) for v in page.items], next_cursor=page.next_cursor)
