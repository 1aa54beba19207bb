"""Use cases of the service catalog: publish a version, read current and past versions."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from icr.requests.domain.access import Actor, can_manage_catalog
from icr.requests.domain.catalog import CatalogItem
from icr.requests.domain.errors import FieldError, Forbidden, FormInvalid, NotFound
from icr.requests.handlers.deps import Deps, retrying

# What a publish may change; identity, version and publication time are the store's business.
_FROZEN = {"id", "version", "provider_department_id", "published_at"}


async def publish_catalog_item(
    draft: CatalogItem, *, actor: Actor, deps: Deps
) -> tuple[CatalogItem, bool]:
    """Publish `draft` (its version and publication time are ignored) as the item's next
    version; returns the current item and whether a new version was published. Publishing
    what is already current changes nothing, so a repeated PUT is harmless."""
    if not can_manage_catalog(actor, draft.provider_department_id):
        raise Forbidden("only the provider department's managers may publish its catalog")
    await _check_departments(draft, deps)

    async def attempt() -> tuple[CatalogItem, bool]:
        current = await deps.catalog.current(draft.id)
        now = deps.clock()
        if current is None:
            item = replace(draft, version=1, published_at=now)
            await deps.catalog.publish(item, replacing=None)
            return item, True
        if current.provider_department_id != draft.provider_department_id:
            raise FormInvalid(
                [
                    FieldError(
                        "provider_department_id",
                        "immutable",
                        f"the item belongs to {current.provider_department_id}; publish a new "
                        "item for another department",
                    )
                ]
            )
        changes: dict[str, Any] = {
            f.name: getattr(draft, f.name) for f in fields(draft) if f.name not in _FROZEN
        }
        if all(getattr(current, k) == v for k, v in changes.items()):
            return current, False
        item = current.publish_change(at=now, **changes)
        await deps.catalog.publish(item, replacing=current)
        return item, True

    return await retrying(deps, attempt)


async def _check_departments(draft: CatalogItem, deps: Deps) -> None:
    wanted = {draft.provider_department_id} | {o.consumer_department_id for o in draft.ola}
    known = await deps.directory.department_ids(wanted)
    errors = []
    if draft.provider_department_id not in known:
        errors.append(FieldError("provider_department_id", "unknown", "no department with this id"))
    errors += [
        FieldError(f"ola[{i}].consumer_department_id", "unknown", "no department with this id")
        for i, o in enumerate(draft.ola)
        if o.consumer_department_id not in known
    ]
    if errors:
        raise FormInvalid(errors)


async def get_catalog_item(item_id: str, *, version: int | None, deps: Deps) -> CatalogItem:
    item = (
        await deps.catalog.current(item_id)
        if version is None
        else await deps.catalog.version(item_id, version)
    )
    if item is None:
        suffix = "" if version is None else f" version {version}"
        raise NotFound(f"catalog item {item_id}{suffix} not found")
    return item


async def list_catalog_items(
    *, provider_department_id: str | None, deps: Deps
) -> list[CatalogItem]:
    return await deps.catalog.list(provider_department_id=provider_department_id)
