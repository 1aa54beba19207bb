"""Service catalog routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from icr.requests.api.deps import ActorDep, DepsDep, strict_query
from icr.requests.api.schemas import ID_PATTERN, CatalogItemIn
from icr.requests.api.views import CatalogItemOut
from icr.requests.handlers import catalog

router = APIRouter(prefix="/catalog/items", tags=["catalog"])


@router.put("/{item_id}", response_model=CatalogItemOut)
async def put_item(
    item_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: CatalogItemIn,
    actor: ActorDep,
    deps: DepsDep,
    response: Response,
) -> CatalogItemOut:
    """Publish a catalog item: each change is a new version (201 for the first); publishing
    the current content again changes nothing (200, same version)."""
    item, published = await catalog.publish_catalog_item(
        body.to_domain(item_id), actor=actor, deps=deps
    )
    response.status_code = 201 if published and item.version == 1 else 200
    return CatalogItemOut.of(item)


@router.get(
    "",
    response_model=list[CatalogItemOut],
    dependencies=[Depends(strict_query("department"))],
)
async def list_items(
    actor: ActorDep,
    deps: DepsDep,
    department: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Provider department id.")
    ] = None,
) -> list[CatalogItemOut]:
    items = await catalog.list_catalog_items(provider_department_id=department, deps=deps)
    return [CatalogItemOut.of(i) for i in items]


@router.get(
    "/{item_id}", response_model=CatalogItemOut, dependencies=[Depends(strict_query("version"))]
)
async def get_item(
    item_id: str,
    actor: ActorDep,
    deps: DepsDep,
    version: Annotated[int | None, Query(ge=1, description="A past version.")] = None,
) -> CatalogItemOut:
    return CatalogItemOut.of(await catalog.get_catalog_item(item_id, version=version, deps=deps))
