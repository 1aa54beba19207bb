"""GraphQL types and queries of the service catalog, from the requests service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.directory import Department, MaybeAwaitable, department, localized
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from

Info = strawberry.Info[Context, None]


@strawberry.type
class FormField:
    """One field of an item's form; which of the optional settings apply depends on `type`
    (text, number, choice, date, person)."""

    type: str
    name: str
    labels: JSON
    required: bool
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool | None = None
    options: list[str] | None = None
    multiple: bool | None = None
    earliest: str | None = None
    latest: str | None = None

    @strawberry.field
    def label(self, locale: str = "en") -> str:
        return localized(self.labels, locale) or self.name

    @classmethod
    def from_json(cls, row: Json) -> FormField:
        optional = {
            k: row.get(k)
            for k in (
                "min_length",
                "max_length",
                "minimum",
                "maximum",
                "integer",
                "options",
                "multiple",
                "earliest",
                "latest",
            )
        }
        return cls(
            type=row["type"],
            name=row["name"],
            labels=JSON(row.get("label") or {}),
            required=row.get("required", False),
            **optional,
        )


@strawberry.type
class Targets:
    """SLA targets of one priority, in business minutes."""

    priority: str
    first_response_minutes: int
    resolution_minutes: int


@strawberry.type
class CatalogItem:
    id: strawberry.ID
    version: int
    names: JSON
    descriptions: JSON
    owning_team: str
    fields: list[FormField]
    default_priority: str
    targets: list[Targets]
    active: bool
    published_at: datetime | None
    provider_department_id: strawberry.Private[str]

    @strawberry.field
    def name(self, locale: str = "en") -> str:
        return localized(self.names, locale)

    @strawberry.field
    def description(self, locale: str = "en") -> str:
        return localized(self.descriptions, locale)

    @strawberry.field
    async def provider_department(self, info: Info) -> Department | None:
        return await department(info, self.provider_department_id)

    @classmethod
    def from_json(cls, row: Json) -> CatalogItem:
        return cls(
            id=strawberry.ID(row["id"]),
            version=row["version"],
            names=JSON(row["name"]),
            descriptions=JSON(row.get("description") or {}),
            owning_team=row["owning_team"],
            fields=[FormField.from_json(f) for f in row.get("fields", [])],
            default_priority=row["default_priority"],
            targets=[
                Targets(
                    priority=p,
                    first_response_minutes=t["first_response_minutes"],
                    resolution_minutes=t["resolution_minutes"],
                )
                for p, t in row["targets"].items()
            ],
            active=row["active"],
            published_at=datetime.fromisoformat(row["published_at"])
            if row.get("published_at")
            else None,
            provider_department_id=row["provider_department_id"],
        )


def catalog_item_now(info: Info, item_id: str | None) -> MaybeAwaitable[CatalogItem | None]:
    """`catalog_item`, answered at once when the read cache has the catalog."""
    if not item_id:
        return None
    row = info.context.loaders.cached_catalog_item(item_id)
    if row is not None:
        return CatalogItem.from_json(row)
    return catalog_item(info, item_id)


async def catalog_item(info: Info, item_id: str | None) -> CatalogItem | None:
    if not item_id:
        return None
    row = await info.context.loaders.catalog.load(item_id)
    return CatalogItem.from_json(row) if row else None


@strawberry.type
class CatalogQuery:
    @strawberry.field(
        description="The catalog: what can be requested, optionally of one department."
    )
    async def catalog(
        self, info: Info, department_id: strawberry.ID | None = None
    ) -> list[CatalogItem] | None:
        params = {"department": str(department_id)} if department_id else {}
        rows = await info.context.clients.requests.call(
            "GET", "/catalog/items", token=info.context.token(), params=params
        )
        return [CatalogItem.from_json(row) for row in rows]

    @strawberry.field(description="A catalog item, its current version or a past one.")
    async def catalog_item(
        self, info: Info, id: strawberry.ID, version: int | None = None
    ) -> CatalogItem | None:
        if version is None:
            return await catalog_item(info, str(id))
        try:
            row = await info.context.clients.requests.call(
                "GET",
                f"/catalog/items/{segment(str(id))}",
                token=info.context.token(),
                params={"version": version},
            )
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise
        return CatalogItem.from_json(row)


@strawberry.input
class CatalogItemInput:
    """A catalog item as the requests service takes it (`PUT /catalog/items/{id}`)."""

    id: strawberry.ID
    provider_department_id: strawberry.ID
    names: JSON
    owning_team: str
    targets: JSON = strawberry.field(
        description='Per priority: {"high": {"first_response_minutes": 30, '
        '"resolution_minutes": 480}, ...}; all four priorities.'
    )
    descriptions: JSON | None = None
    fields: JSON | None = strawberry.field(
        default=None,
        description='Form fields, e.g. [{"type": "choice", "name": "model", "options": [...]}].',
    )
    default_priority: str = "medium"
    ola: JSON | None = None
    allow_resolve_with_open_children: bool = False
    active: bool = True


CatalogItemResult = Annotated[
    CatalogItem | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("CatalogItemResult"),
]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(
        description="The provider's manager or an administrator: publish a catalog item (each "
        "change is a new version)."
    )
    async def publish_catalog_item(self, info: Info, input: CatalogItemInput) -> CatalogItemResult:
        body = {
            "provider_department_id": str(input.provider_department_id),
            "name": input.names,
            "description": input.descriptions or {},
            "owning_team": input.owning_team,
            "fields": input.fields or [],
            "default_priority": input.default_priority,
            "targets": input.targets,
            "ola": input.ola or [],
            "allow_resolve_with_open_children": input.allow_resolve_with_open_children,
            "active": input.active,
        }
        try:
            row = await info.context.clients.requests.call(
                "PUT",
                f"/catalog/items/{segment(str(input.id))}",
                token=info.context.token(),
                json=body,
            )
        except UpstreamError as error:
            return problem_from(error)
        return CatalogItem.from_json(row)
