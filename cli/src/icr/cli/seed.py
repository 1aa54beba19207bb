"""`icr seed`: the demo organisation, written through the gateway's public mutations only.

Each step reads what the platform has, compares it with the plan and writes only what differs,
so a second run writes nothing and an interrupted run continues where it stopped. The order
follows what the directory requires: departments (without managers: a manager must be a known
person), people, then the departments again with their managers, then the catalog, then the
incentives: the points policy with the company's values, and the reward catalog."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from icr.cli import org
from icr.cli.gql import PROBLEM_FIELDS, Gateway, Json

UPSERT_DEPARTMENT = f"""
mutation Dept($input: DepartmentInput!) {{
  upsertDepartment(input: $input) {{ __typename ... on Department {{ id }} {PROBLEM_FIELDS} }}
}}"""
UPSERT_PERSON = f"""
mutation Person($input: PersonInput!) {{
  upsertPerson(input: $input) {{ __typename ... on Person {{ id }} {PROBLEM_FIELDS} }}
}}"""
PUBLISH_ITEM = f"""
mutation Item($input: CatalogItemInput!) {{
  publishCatalogItem(input: $input) {{
    __typename ... on CatalogItem {{ id version }} {PROBLEM_FIELDS}
  }}
}}"""
DEPARTMENTS = "{ departments { id names calendar parent { id } manager { id } } }"
PEOPLE = """query People($ids: [ID!]!) {
  people(ids: $ids) { id name roles locale active department { id } }
}"""
CATALOG = "{ catalog { id version } }"
# people(ids:) takes up to 1,000 ids.
PEOPLE_PAGE = 500


@dataclass
class SeedReport:
    """What a run wrote, per kind: created, updated, unchanged."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += n

    @property
    def writes(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())


Progress = Callable[[str, int], None]  # (step, items done) for a progress display


@dataclass
class Seeder:
    gateway: Gateway
    size: int
    admin: str = "admin"
    report: SeedReport = field(default_factory=SeedReport)
    progress: Progress = lambda step, n: None

    def steps(self) -> list[tuple[str, int, Callable[[], Awaitable[None]]]]:
        """(name, items, run) in order; other domains append theirs."""
        people = org.people(self.size)
        return [
            ("departments", len(org.DEPARTMENTS), lambda: self.departments(managers=False)),
            ("people", len(people), lambda: self.people(people)),
            ("managers", len(org.DEPARTMENTS), lambda: self.departments(managers=True)),
            ("catalog", len(org.CATALOG), self.catalog),
            ("points policy", 1, self.policy),
            ("rewards", len(org.REWARDS), self.rewards),
            ("followers", 1, lambda: self.followed(people[-1]["id"])),
        ]

    async def run(self) -> SeedReport:
        for name, _, step in self.steps():
            self.progress(name, 0)
            await step()
        return self.report

    async def departments(self, *, managers: bool) -> None:
        found = await self.gateway.query(DEPARTMENTS, actor=self.admin)
        current = {d["id"]: d for d in found["departments"]}
        for plan in org.DEPARTMENTS:  # parents come first in the plan
            have = current.get(plan.id)
            manager = org.manager_of(plan.id) if managers else None
            if have is not None and not managers:
                # Phase one only creates; the manager is set (or kept) by phase two.
                manager = (have.get("manager") or {}).get("id")
            wanted = {
                "id": plan.id,
                "names": plan.names(),
                "calendar": plan.calendar(),
                "parentId": plan.parent,
                "managerId": manager,
            }
            kind = "department manager" if managers else "department"
            if have is not None and _same_department(have, wanted):
                self.report.add(kind, "unchanged")
            else:
                await self.gateway.mutate(
                    "upsertDepartment", UPSERT_DEPARTMENT, {"input": wanted}, actor=self.admin
                )
                self.report.add(kind, "created" if have is None else "updated")
            self.progress("managers" if managers else "departments", 1)

    async def people(self, people: list[Json]) -> None:
        for chunk in _chunks(people, PEOPLE_PAGE):
            found = await self.gateway.query(
                PEOPLE, {"ids": [p["id"] for p in chunk]}, actor=self.admin
            )
            have = {p["id"]: p for p in found["people"] if p is not None}

            async def one(person: Json, have: dict[str, Json] = have) -> None:
                known = have.get(person["id"])
                if known is not None and _same_person(known, person):
                    self.report.add("person", "unchanged")
                else:
                    await self.gateway.mutate(
                        "upsertPerson", UPSERT_PERSON, {"input": person}, actor=self.admin
                    )
                    self.report.add("person", "created" if known is None else "updated")
                self.progress("people", 1)

            await asyncio.gather(*(one(p) for p in chunk))

    async def followed(self, person: str) -> None:
        """Waits until the services that follow the directory's events know the last person
        written (the gateway client waits out "not in the directory"), so the organisation is
        usable by everyone when the seed returns."""
        await self.gateway.query(FOLLOWED, actor=person)
        self.progress("followers", 1)

    async def policy(self) -> None:
        """The points policy and the company's values; published as a new version only when the
        newest version differs from the plan."""
        versions = (await self.gateway.query(POLICY_VERSIONS, actor=self.admin))[
            "pointsPolicyVersions"
        ]
        newest = versions[0] if versions else None
        if newest is not None and newest["version"] > 0 and _same_policy(newest, org.POLICY):
            self.report.add("points policy", "unchanged")
        else:
            effective = (datetime.now(UTC) + POLICY_LEAD).isoformat()
            await self.gateway.mutate(
                "publishPolicy",
                PUBLISH_POLICY,
                {"input": {**org.POLICY, "effectiveFrom": effective}},
                actor=self.admin,
            )
            self.report.add("points policy", "created" if not newest or not newest["version"]
                            else "updated")  # fmt: skip
        self.progress("points policy", 1)

    async def rewards(self) -> None:
        """The reward catalog; an existing reward keeps its stock (redemptions use it up)."""
        have = {
            r["id"]: r for r in (await self.gateway.query(REWARDS, actor=self.admin))["rewards"]
        }
        for plan in org.REWARDS:
            wanted = plan.input()
            known = have.get(plan.id)
            if known is not None:
                wanted["stock"] = known["stock"]
                if (
                    all(known[k] == wanted[k] for k in ("names", "descriptions", "cost"))
                    and known["active"]
                ):
                    self.report.add("reward", "unchanged")
                    self.progress("rewards", 1)
                    continue
            await self.gateway.mutate(
                "upsertReward", UPSERT_REWARD, {"input": wanted}, actor=self.admin
            )
            self.report.add("reward", "created" if known is None else "updated")
            self.progress("rewards", 1)

    async def catalog(self) -> None:
        before = {
            i["id"]: i["version"]
            for i in (await self.gateway.query(CATALOG, actor=self.admin))["catalog"]
        }
        for item in org.CATALOG:
            # The service compares the draft with the current version and publishes nothing
            # when they are equal, so the version says whether anything changed.
            saved = await self.gateway.mutate(
                "publishCatalogItem", PUBLISH_ITEM, {"input": item.input()}, actor=self.admin
            )
            was = before.get(item.id)
            outcome = (
                "created" if was is None else "unchanged" if saved["version"] == was else "updated"
            )
            self.report.add("catalog item", outcome)
            self.progress("catalog", 1)


FOLLOWED = "{ me { id } myRatingInvitations { requestId } }"


POLICY_VERSIONS = """{ pointsPolicyVersions {
  version rules { id on pays points when { slaMet firstResponseMet minStars } }
  recognition { allowanceByRole { role points } minMessageLength values perRecipientCapPerMonth }
  pairCapPerMonth notes } }"""
PUBLISH_POLICY = """mutation Policy($input: PolicyInput!) {
  publishPolicy(input: $input) {
    __typename ... on PointsPolicy { version }
    ... on InvalidInput { message fields { field message } }
    ... on Forbidden { message } ... on Conflict { message }
  }
}"""
REWARDS = "{ rewards { id names descriptions cost stock active } }"
UPSERT_REWARD = f"""mutation Reward($input: RewardInput!) {{
  upsertReward(input: $input) {{ __typename ... on Reward {{ id }} {PROBLEM_FIELDS} }}
}}"""
# A policy applies from its effective time, which may not be in the past: a few seconds ahead.
POLICY_LEAD = timedelta(seconds=5)


def _same_policy(have: Json, wanted: Json) -> bool:
    def rules(rs: list[Json]) -> list[Json]:
        return sorted(
            (
                {
                    "id": r["id"], "on": r["on"], "pays": r["pays"], "points": r["points"],
                    "when": {k: v for k, v in (r.get("when") or {}).items() if v is not None},
                }
                for r in rs
            ),
            key=lambda r: str(r["id"]),
        )  # fmt: skip

    def terms(t: Json) -> Json:
        return {**t, "allowanceByRole": sorted(t["allowanceByRole"], key=lambda a: a["role"])}

    return bool(
        rules(have["rules"]) == rules(wanted["rules"])
        and terms(have["recognition"]) == terms(wanted["recognition"])
        and have.get("pairCapPerMonth") == wanted.get("pairCapPerMonth")
        and have.get("notes", "") == wanted.get("notes", "")
    )


def _same_department(have: Json, wanted: Json) -> bool:
    calendar = have.get("calendar") or {}
    plan = wanted["calendar"]
    return bool(
        have["names"] == wanted["names"]
        and (have.get("parent") or {}).get("id") == wanted["parentId"]
        and (have.get("manager") or {}).get("id") == wanted["managerId"]
        and calendar.get("timezone") == plan["timezone"]
        and calendar.get("week") == plan["week"]
        and sorted(calendar.get("holidays") or []) == sorted(plan["holidays"])
        and sorted(calendar.get("extra_working_days") or []) == sorted(plan["extraWorkingDays"])
    )


def _same_person(have: Json, wanted: Json) -> bool:
    return bool(
        have["name"] == wanted["name"]
        and (have.get("department") or {}).get("id") == wanted["departmentId"]
        and sorted(have["roles"]) == sorted(wanted["roles"])
        and have["locale"] == wanted.get("locale", "en")
        and have["active"] == wanted.get("active", True)
    )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
