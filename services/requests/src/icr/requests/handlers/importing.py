"""Bulk directory import from an HR export (JSON rows or CSV), all rows or none.

Every row is validated, and the file against itself and the stored directory (parents,
managers, departments of people, cycles), before anything is written. The accepted file is then
journaled in one write (store/imports.py) and applied as upserts: rows equal to what is stored
change nothing and emit no event. There are no multi-document transactions to lean on, so a
crash mid-apply is finished by the scheduler, which applies the journaled file again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icr.contracts import new_id
from icr.kit.scheduler import DueWork
from icr.requests.domain.access import Actor, can_manage_directory
from icr.requests.domain.calendar import WEEKDAYS, BusinessCalendar
from icr.requests.domain.directory import Department, Person, Role
from icr.requests.domain.errors import FieldError, Forbidden, InvalidInput
from icr.requests.handlers.deps import Deps, retrying, timer_collection
from icr.requests.handlers.errors import ImportPending, ImportRejected, RowReport
from icr.requests.store import Saved
from icr.requests.store.imports import RESUME_DUE

COLUMNS = (
    "kind",
    "id",
    "name",
    "name_en",
    "name_zh",
    "parent_id",
    "manager_id",
    "timezone",
    "week",
    "holidays",
    "extra_working_days",
    "department_id",
    "roles",
    "locale",
    "active",
)
DEFAULT_WEEK = "mon-fri=09:00-18:00"
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}
_CONCURRENCY = 32

log = logging.getLogger(__name__)


@dataclass
class _Row:
    number: int
    kind: str
    id: str
    errors: list[FieldError] = field(default_factory=list)
    department: Department | None = None
    person: Person | None = None

    def bad(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(name, code, message))


@dataclass(frozen=True)
class ImportResult:
    rows: list[tuple[int, str, str, str]]  # (row, kind, id, created|updated|unchanged)

    def summary(self) -> dict[str, dict[str, int]]:
        return {"departments": self.counts("department"), "people": self.counts("person")}

    def counts(self, kind: str) -> dict[str, int]:
        out = {"created": 0, "updated": 0, "unchanged": 0}
        for _, k, _, result in self.rows:
            if k == kind:
                out[result] += 1
        return out


# --- formats -----------------------------------------------------------------------------------


def parse_rows(body: bytes, content_type: str, *, max_rows: int) -> list[dict[str, Any]]:
    """Raw rows from a JSON array of objects or a CSV file with a header line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file must be UTF-8") from None
    if "csv" in content_type:
        reader = csv.DictReader(io.StringIO(text))
        unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
        if unknown:
            raise InvalidInput(f"unknown columns {unknown}; known: {', '.join(COLUMNS)}")
        rows: list[dict[str, Any]] = []
        for raw in reader:
            if len(rows) >= max_rows:
                raise InvalidInput(f"at most {max_rows} rows per import")
            if None in raw:
                raise InvalidInput(f"line {reader.line_num} has more cells than the header")
            rows.append(dict(raw))
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidInput("a JSON import is an array of row objects")
    if len(data) > max_rows:
        raise InvalidInput(f"at most {max_rows} rows per import")
    return data


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = "" if value is None else str(value)
    for sep in "|,":
        text = text.replace(sep, ";")
    return [p.strip() for p in text.split(";") if p.strip()]


def _week(value: Any) -> dict[str, str]:
    """`{"mon": "09:00-18:00"}` as is, or text like `mon-fri=09:00-12:00,13:00-18:00;sat=...`."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    week: dict[str, str] = {}
    for part in str(value).split(";"):
        if not part.strip():
            continue
        days, sep, hours = part.partition("=")
        if not sep:
            raise InvalidInput(f"{part.strip()!r}: expected days=HH:MM-HH:MM")
        first, _, last = days.strip().lower().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise InvalidInput(f"{days.strip()!r}: days are {', '.join(WEEKDAYS)} or a range")
        span = WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last or first) + 1]
        if not span:
            raise InvalidInput(f"{days.strip()!r}: a range runs from an earlier to a later day")
        for day in span:
            week[day] = hours.strip()
    return week


def _dates(row: _Row, raw: dict[str, Any], name: str) -> list[date]:
    out = []
    for item in _split(raw.get(name)):
        try:
            out.append(date.fromisoformat(item))
        except ValueError:
            row.bad(name, "invalid", f"{item!r} is not a date as YYYY-MM-DD")
    return out


# --- rows --------------------------------------------------------------------------------------


def _department(row: _Row, raw: dict[str, Any], known: Department | None) -> None:
    """A blank calendar column keeps the stored value (HR exports rarely carry calendars)."""
    name = {"en": _text(raw, "name_en") or _text(raw, "name"), "zh-CN": _text(raw, "name_zh")}
    name = {k: v for k, v in name.items() if v}
    if not name:
        row.bad("name_en", "required", "a department needs name_en or name_zh")
    old = known.calendar if known is not None else None
    zone = _text(raw, "timezone") or (old.timezone if old else "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        row.bad("timezone", "invalid", f"unknown time zone {zone!r}")
        return
    week_raw = raw.get("week")
    holidays = _dates(row, raw, "holidays") if _split(raw.get("holidays")) else None
    extra = (
        _dates(row, raw, "extra_working_days") if _split(raw.get("extra_working_days")) else None
    )
    try:
        week = _week(week_raw) if week_raw else (old.spec() if old else _week(DEFAULT_WEEK))
        calendar = BusinessCalendar.from_spec(
            zone,
            week,
            holidays=holidays if holidays is not None else (old.holidays if old else ()),
            extra_working_days=extra
            if extra is not None
            else (old.extra_working_days if old else ()),
            extra_day_hours=",".join(map(str, old.extra_day_hours)) if old else "",
        )
    except InvalidInput as exc:
        row.bad("week", "invalid", str(exc))
        return
    if row.errors:
        return
    try:
        row.department = Department(
            id=row.id,
            name=name,
            calendar=calendar,
            parent_id=_text(raw, "parent_id") or None,
            manager_id=_text(raw, "manager_id") or None,
        )
    except InvalidInput as exc:
        row.bad("id", "invalid", str(exc))


def _person(row: _Row, raw: dict[str, Any]) -> None:
    roles = _split(raw.get("roles")) or [str(Role.EMPLOYEE)]
    unknown = [r for r in roles if r not in set(Role)]
    if unknown:
        row.bad("roles", "invalid", f"unknown roles {unknown}; use {', '.join(Role)}")
    active_raw = raw.get("active")
    active = True
    if isinstance(active_raw, bool):
        active = active_raw
    elif _text(raw, "active"):
        flag = _text(raw, "active").lower()
        if flag not in _TRUE | _FALSE:
            row.bad("active", "invalid", "must be true or false")
        active = flag in _TRUE
    if not _text(raw, "name"):
        row.bad("name", "required", "is required")
    if not _text(raw, "department_id"):
        row.bad("department_id", "required", "is required")
    if row.errors:
        return
    try:
        row.person = Person(
            id=row.id,
            name=_text(raw, "name"),
            department_id=_text(raw, "department_id"),
            roles=frozenset(Role(r) for r in roles),
            locale=_text(raw, "locale") or "en",
            active=active,
        )
    except InvalidInput as exc:
        row.bad("locale", "invalid", str(exc))


def _check_links(
    rows: list[_Row], stored_departments: dict[str, Department], stored_people: set[str]
) -> None:
    """Parents, managers and departments must exist in the file or the store; no cycles."""
    departments = dict(stored_departments)
    departments.update({r.id: r.department for r in rows if r.department is not None})
    people = stored_people | {r.id for r in rows if r.kind == "person"}
    for row in rows:
        if row.department is not None:
            dept = row.department
            if dept.parent_id is not None and dept.parent_id not in departments:
                row.bad("parent_id", "unknown", f"no department {dept.parent_id!r}")
            elif _has_cycle(dept.id, departments):
                row.bad("parent_id", "cycle", "the parent chain leads back to this department")
            if dept.manager_id is not None and dept.manager_id not in people:
                row.bad("manager_id", "unknown", f"no person {dept.manager_id!r}")
        if row.person is not None and row.person.department_id not in departments:
            row.bad("department_id", "unknown", f"no department {row.person.department_id!r}")


def _has_cycle(start: str, departments: dict[str, Department]) -> bool:
    seen = {start}
    current = departments[start].parent_id
    while current is not None and current in departments:
        if current in seen:
            return True
        seen.add(current)
        current = departments[current].parent_id
    return False


# --- the use case ------------------------------------------------------------------------------


async def import_directory(
    body: bytes, content_type: str, *, actor: Actor, deps: Deps
) -> ImportResult:
    if not can_manage_directory(actor):
        raise Forbidden("only administrators may import the directory")
    rows = await _validated(body, content_type, deps)
    now = deps.clock()
    import_id = new_id()
    await deps.imports.begin(
        import_id,
        body=body,
        content_type=content_type,
        actor_id=actor.person_id,
        at=now,
        resume_at=now + timedelta(seconds=deps.settings.import_resume_seconds),
    )

    async def apply_and_finish() -> ImportResult:
        result = await _apply(rows, deps)
        await deps.imports.finish(
            import_id, status="applied", at=deps.clock(), summary=result.summary()
        )
        return result

    try:
        # Under the entry's lease, renewed while it runs, finish included: however long the
        # apply takes, the timer does not apply the file a second time meanwhile.
        return await deps.imports.applying(import_id, apply_and_finish)
    except Exception as exc:
        # Half-applied is not an end state: the journal entry stays open and the scheduler
        # applies the whole file again once its resume time passes.
        log.exception("import failed part-way; it will be resumed", extra={"import_id": import_id})
        raise ImportPending(import_id, type(exc).__name__) from exc


async def resume_import(import_id: str, now: datetime, *, deps: Deps) -> None:
    """Finish an import that a crash interrupted: the same file, checked and applied again.

    Rows already applied are unchanged upserts now. If the directory changed meanwhile so that
    the file no longer fits, nothing more is applied and the journal says why.
    """
    journaled = await deps.imports.get(import_id)
    if journaled is None or journaled.status != "applying":
        return
    try:
        rows = await _validated(journaled.body, journaled.content_type, deps)
    except (ImportRejected, InvalidInput) as exc:
        log.error("interrupted import no longer applies", extra={"import_id": import_id})
        await deps.imports.finish(import_id, status="rejected", at=now, summary={"error": str(exc)})
        return
    result = await _apply(rows, deps)
    await deps.imports.finish(
        import_id, status="applied", at=deps.clock(), summary=result.summary()
    )
    log.info("interrupted import resumed", extra={"import_id": import_id})


def import_timer(deps: Deps, *, owner: str) -> DueWork:
    return DueWork(
        timer_collection(deps.imports),
        due_field=RESUME_DUE,
        handler=lambda import_id, now: resume_import(import_id, now, deps=deps),
        owner=owner,
        lease_seconds=deps.settings.sla_lease_seconds,
        poll_seconds=deps.settings.sla_poll_seconds,
        clock=deps.clock,
        lease_clock=deps.store_clock,
    )


async def _validated(body: bytes, content_type: str, deps: Deps) -> list[_Row]:
    """Every row checked, alone and against the file and the stored directory; all or none."""
    raws = parse_rows(body, content_type, max_rows=deps.settings.max_import_rows)
    stored_departments = {d.id: d for d in await deps.directory.all_departments()}
    rows, seen = [], set()
    for number, raw in enumerate(raws, start=1):
        kind, row_id = _text(raw, "kind").lower(), _text(raw, "id")
        row = _Row(number, kind, row_id)
        rows.append(row)
        if not row_id:
            row.bad("id", "required", "is required")
        elif (kind, row_id) in seen:
            row.bad("id", "duplicate", f"{kind} {row_id!r} appears earlier in the file")
        seen.add((kind, row_id))
        if kind == "department":
            _department(row, raw, stored_departments.get(row_id))
        elif kind == "person":
            _person(row, raw)
        else:
            row.bad("kind", "invalid", "must be department or person")
    managers = {r.department.manager_id for r in rows if r.department and r.department.manager_id}
    stored_people = await deps.directory.person_ids(managers)
    _check_links(rows, stored_departments, stored_people)
    bad = [RowReport(r.number, r.kind, r.id, r.errors) for r in rows if r.errors]
    if bad:
        raise ImportRejected(bad)
    return rows


async def _apply(rows: list[_Row], deps: Deps) -> ImportResult:
    at = deps.clock()
    departments = [r for r in rows if r.department is not None]
    people = [r for r in rows if r.person is not None]
    results: dict[int, str] = {}

    def outcome(saved: Saved) -> str:
        return "created" if saved.created else "updated" if saved.changed else "unchanged"

    # Parents before children, so consumers building the tree never meet an unknown parent.
    for row in sorted(departments, key=lambda r: _depth(r, rows)):
        assert row.department is not None
        dept = row.department

        async def save_department(dept: Department = dept) -> Saved:
            known = await deps.directory.department(dept.id)
            return await deps.directory.save_department(dept, known=known, at=at)

        results[row.number] = outcome(await retrying(deps, save_department))

    known_people = await deps.directory.people_by_ids(r.id for r in people)

    async def save_person(row: _Row) -> None:
        assert row.person is not None
        person = row.person
        first = True

        async def attempt() -> Saved:
            nonlocal first
            # The bulk read serves the first try; a lost race reloads that one person.
            known = known_people.get(person.id) if first else await deps.directory.person(person.id)
            first = False
            return await deps.directory.save_person(person, known=known, at=at)

        results[row.number] = outcome(await retrying(deps, attempt))

    for start in range(0, len(people), _CONCURRENCY):
        await asyncio.gather(*(save_person(r) for r in people[start : start + _CONCURRENCY]))
    result = ImportResult([(r.number, r.kind, r.id, results[r.number]) for r in rows])
    log.info("directory imported", extra=result.summary())
    return result


def _depth(row: _Row, rows: list[_Row]) -> int:
    parents = {r.id: r.department.parent_id for r in rows if r.department is not None}
    depth, current = 0, parents.get(row.id)
    while current is not None and current in parents and depth < len(parents):
        depth, current = depth + 1, parents[current]
    return depth
