"""Directory routes: departments, people and the bulk import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from icr.requests.api.deps import ActorDep, DepsDep, strict_query
from icr.requests.api.schemas import ID_PATTERN, DepartmentIn, PersonIn
from icr.requests.api.views import DepartmentOut, ImportOut, PersonOut
from icr.requests.handlers import directory, importing

router = APIRouter(tags=["directory"])
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]


@router.put("/departments/{department_id}", response_model=DepartmentOut)
async def put_department(
    department_id: IdPath, body: DepartmentIn, actor: ActorDep, deps: DepsDep, response: Response
) -> DepartmentOut:
    """Create or replace a department (administrators); 201 when created."""
    department = body.to_domain(department_id)
    saved = await directory.upsert_department(department, actor=actor, deps=deps)
    response.status_code = 201 if saved.created else 200
    return DepartmentOut.of(department)


@router.get("/departments", response_model=list[DepartmentOut])
async def list_departments(actor: ActorDep, deps: DepsDep) -> list[DepartmentOut]:
    return [DepartmentOut.of(d) for d in await directory.list_departments(deps=deps)]


@router.put("/people/{person_id}", response_model=PersonOut)
async def put_person(
    person_id: IdPath, body: PersonIn, actor: ActorDep, deps: DepsDep, response: Response
) -> PersonOut:
    """Create or replace a person (administrators); 201 when created."""
    person = body.to_domain(person_id)
    saved = await directory.upsert_person(person, actor=actor, deps=deps)
    response.status_code = 201 if saved.created else 200
    return PersonOut.of(person)


@router.get("/people", response_model=list[PersonOut], dependencies=[Depends(strict_query("id"))])
async def batch_people(
    actor: ActorDep,
    deps: DepsDep,
    id: Annotated[list[Annotated[str, Query(pattern=ID_PATTERN)]], Query(min_length=1)],
) -> list[PersonOut]:
    """The people among `id`; unknown ids are absent (the gateway's batch of names)."""
    return [PersonOut.of(p) for p in await directory.get_people(id, deps=deps)]


@router.get("/people/{person_id}", response_model=PersonOut)
async def get_person(person_id: str, actor: ActorDep, deps: DepsDep) -> PersonOut:
    return PersonOut.of(await directory.get_person(person_id, deps=deps))


@router.post(
    "/directory/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "required": True,
            "description": "Columns: " + ", ".join(importing.COLUMNS),
        }
    },
)
async def import_directory(request: Request, actor: ActorDep, deps: DepsDep) -> ImportOut:
    """Upsert departments and people from an HR export: every row valid, or nothing applied
    and a report per bad row (422)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json")
    result = await importing.import_directory(body, content_type, actor=actor, deps=deps)
    return ImportOut.of(result)
