"""`icr simulate`: weeks of plausible activity, driven through the public APIs.

The clock. The services keep SLA clocks on real time and have no injectable clock across
processes, so a simulation cannot make a week pass in a minute. It plans instead: `--weeks`
sets the volume and the order (a working week of the organisation's requests, each with a
simulated timeline: submitted on a day and hour, handled after a delay that follows the
request's difficulty and its agent's speed), and `--rate` is how many actions per second are
sent, in the order of the simulated timeline. The services record real times; what is
compressed is the gaps between actions. SLA breaches are therefore real ones: they happen where
the real gaps exceed a target (the service desk's tight password-reset targets, slow agents),
and the summary reports them as the requests service does.

Deterministic with `--seed`: the plan (who asks what, which agent, which path, which rating)
is drawn from one generator before anything is sent. Resumable: a journal (a JSON file, written
after every step) records each planned request's id and the steps done; a second run with the
same seed and options continues from it, and looks up by title a request whose submission was
not yet journaled, so nothing is submitted twice.

Everything goes through the GraphQL gateway, each action with the token of the person who takes
it: requests and their actions, ratings, the quarterly evaluation campaign and its answers."""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from icr.cli import org
from icr.cli.gql import PROBLEM_FIELDS, RETRIES, Gateway, Json, Problem, Unavailable

PRIORITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
SUBMIT = f"""mutation Submit($input: SubmitRequestInput!) {{
  submitRequest(input: $input) {{
    __typename ... on ServiceRequest {{ id status }} {PROBLEM_FIELDS}
  }}
}}"""
RESULT = f"{{ __typename ... on ServiceRequest {{ id status }} {PROBLEM_FIELDS} }}"
# action -> its text argument (None: no argument beyond the request)
TEXT_ARGUMENT = {
    "accept": None,
    "start": None,
    "close": None,
    "ask": "question",
    "reply": "message",
    "resolve": "note",
    "reopen": "reason",
    "reject": "reason",
    "cancel": "reason",
}
ACTIONS = {
    action: (
        f"mutation($id: ID!) {{ {action}(requestId: $id) {RESULT} }}"
        if arg is None
        else f"mutation($id: ID!, $text: String!) "
        f"{{ {action}(requestId: $id, {arg}: $text) {RESULT} }}"
    )
    for action, arg in TEXT_ARGUMENT.items()
}
ACTIONS["assign"] = (
    f"mutation($id: ID!, $to: ID!) {{ assign(requestId: $id, assigneeId: $to) {RESULT} }}"
)
# The status each action leaves the request in (to recognise a step done before an interruption).
LEADS_TO = {
    "accept": "ACCEPTED",
    "start": "IN_PROGRESS",
    "ask": "WAITING_ON_REQUESTER",
    "reply": "IN_PROGRESS",
    "resolve": "RESOLVED",
    "close": "CLOSED",
    "reopen": "IN_PROGRESS",
    "reject": "REJECTED",
    "cancel": "CANCELLED",
}
CATALOG = "{ catalog { id providerDepartment { id } } }"
MINE = """query Mine($who: ID!) {
  requests(filter: {requesterIds: [$who]}, first: 100) { nodes { id title } }
}"""
BY_IDS = """query Ids($ids: [ID!]!) {
  requestsByIds(ids: $ids) { id status breached reopenCount rating { status stars } }
}"""
OPEN_ASSIGNED = """query Open($who: ID!) {
  requests(filter: {assigneeIds: [$who], statuses: [SUBMITTED, ACCEPTED, IN_PROGRESS]}, first: 100)
  { nodes { id allowedActions } }
}"""
# The service desk's urgent password resets: minute targets, on a 24x7 calendar.
FORGOTTEN_ITEM = "password-reset"
FORGOTTEN_SHARE = 0.06
# Requests submitted per person and week (a person asks another department for something
# every three weeks or so).
PER_PERSON_WEEK = 0.35
# Working hours of a simulated day, in minutes.
DAY = 9 * 60


class PlanError(Exception):
    """The options or the platform do not allow the simulation (said before anything is sent)."""


@dataclass
class Step:
    action: str  # a request mutation, "submit", "rate" or "recover"
    actor: str
    at: float  # simulated minutes since the start
    text: str = ""
    stars: int = 0
    hold: float = 0.0  # real seconds after the submission before this step may be sent
    to: str = ""  # a recognition's recipient
    points: int = 0  # a recognition's points
    value: str = ""  # a recognition's value tag


@dataclass
class Scenario:
    key: str
    item: str
    provider: str
    requester: str
    agent: str
    manager: str
    priority: str
    title: str
    form: Json
    steps: list[Step]
    request_id: str | None = None
    done: int = 0  # steps completed
    submitted_at: float | None = None  # the event loop's time of the submission (this run)


@dataclass
class Options:
    weeks: int
    rate: float
    seed: int
    size: int = 300
    campaign: bool = True
    journal: Path | None = None

    def check(self) -> None:
        problems = []
        if not 1 <= self.weeks <= 52:
            problems.append("--weeks must be between 1 and 52")
        if not (0 < self.rate <= 500) or math.isnan(self.rate):
            problems.append("--rate must be above 0 and at most 500 actions per second")
        if not 50 <= self.size <= 20_000:
            problems.append("--size must be between 50 and 20000 (the seeded organisation's)")
        if self.seed < 0:
            problems.append("--seed must not be negative")
        if problems:
            raise PlanError("; ".join(problems))


FORMS: dict[str, Callable[[random.Random], Json]] = {
    "laptop": lambda r: {"model": r.choice(["standard", "pro"])},
    "password-reset": lambda r: {"account": f"user{r.randint(100, 999)}"},
    "software-access": lambda r: {
        "application": r.choice(["crm", "erp", "wiki", "vpn"]),
        "justification": r.choice(["New project", "Role change", "Customer demo"]),
    },
    "onboarding": lambda r: {
        "start_date": (date(2027, 1, 4) + timedelta(days=r.randint(0, 60))).isoformat(),
        "role": r.choice(["Analyst", "Engineer", "Account manager", "Designer"]),
    },
    "employment-certificate": lambda r: {"language": r.choice(["zh-CN", "en"])},
    "expense-claim": lambda r: {
        "amount": r.choice([86, 240, 1280, 3650, 9800]),
        "category": r.choice(["travel", "meals", "equipment", "other"]),
    },
    "invoice": lambda r: {"customer": r.choice(["Acme Ltd", "Hua Tai Trading", "Nordlicht GmbH"])},
    "contract-review": lambda r: {
        "kind": r.choice(["customer", "supplier", "nda"]),
        "counterparty": r.choice(["Acme Ltd", "Shenzhen Parts Co", "Nordlicht GmbH"]),
    },
    "meeting-room": lambda r: {"size": r.choice(["small", "medium", "large"])},
    "repair": lambda r: {"location": f"Floor {r.randint(1, 12)}, room {r.randint(1, 40)}"},
    "purchase": lambda r: {"budget": r.choice([500, 2000, 15000, 80000]), "supplier": ""},
}


def plan(options: Options) -> list[Scenario]:
    """Every request of the run and its steps, drawn from one generator seeded by `--seed`."""
    rng = random.Random(options.seed)
    people = org.people(options.size)
    by_dept: dict[str, list[Json]] = {}
    for p in people:
        by_dept.setdefault(p["departmentId"], []).append(p)
    agents = {
        d: [p["id"] for p in by_dept[d] if "AGENT" in p["roles"]] or [org.manager_of(d)]
        for d in org.PROVIDERS
    }
    # Agents of varying speed: a factor on every delay (0.4 quick to 3 slow).
    speed = {a: round(math.exp(rng.gauss(0, 0.55)), 2) for d in agents for a in agents[d]}
    requesters = [p for p in people if "ADMIN" not in p["roles"]]
    weights = [1.0 / i.difficulty for i in org.CATALOG]
    count = max(1, round(len(requesters) * PER_PERSON_WEEK * options.weeks))
    scenarios = []
    for n in range(count):
        item = rng.choices(org.CATALOG, weights)[0]
        requester = rng.choice([p for p in requesters if p["departmentId"] != item.provider])
        agent = rng.choice(agents[item.provider])
        priority = rng.choices(PRIORITIES, [3, 5, 2, 0.5])[0]
        # A few urgent password resets are forgotten by their agent: left untouched, in real
        # time, past the first-response target, so the SLA breach is real.
        forgotten = item.id == FORGOTTEN_ITEM and rng.random() < FORGOTTEN_SHARE
        if forgotten:
            priority = "CRITICAL"
        day = rng.randrange(options.weeks * 5)
        start = day * DAY + rng.uniform(0, DAY * 0.8)
        key = f"s{options.seed}-{n:04d}"
        title = f"{item.en} for {requester['name']} ({key})"
        scenarios.append(
            Scenario(
                key=key,
                item=item.id,
                provider=item.provider,
                requester=requester["id"],
                agent=agent,
                manager=org.manager_of(item.provider),
                priority=priority,
                title=title,
                form=FORMS[item.id](rng),
                steps=_path(
                    rng,
                    start,
                    item.difficulty * speed[agent],
                    requester["id"],
                    agent,
                    org.manager_of(item.provider),
                    hold=_first_response_seconds(item) + 15 if forgotten else 0.0,
                ),
            )
        )
    return scenarios


def _first_response_seconds(item: org.ItemPlan) -> float:
    return float(item.targets["critical"]["first_response_minutes"] * 60)


def _path(
    rng: random.Random,
    t: float,
    effort: float,
    requester: str,
    agent: str,
    manager: str,
    *,
    hold: float = 0.0,
) -> list[Step]:
    """One request's plausible path; ratings follow how long it took. With `hold`, the agent
    forgets the request: nothing happens to it for that many real seconds."""
    steps = [Step("submit", requester, t)]
    if hold:
        effort *= 4  # and the requester notices

    def later(minutes: float) -> float:
        nonlocal t
        t += rng.expovariate(1 / (minutes * effort))
        return t

    roll = 1.0 if hold else rng.random()
    if roll < 0.03:
        return [*steps, Step("cancel", requester, later(30), "No longer needed")]
    if roll < 0.06:
        return [
            *steps,
            Step("reject", agent, later(20), "Outside what we provide; see the catalog"),
        ]
    steps += [
        Step("accept", agent, later(15), hold=hold),
        Step("assign", manager, later(5)),
        Step("start", agent, later(20)),
    ]
    if rng.random() < 0.2:  # waiting on the requester
        steps += [
            Step("ask", agent, later(30), "Could you confirm the details?"),
            Step("reply", requester, later(60), "Confirmed, thanks."),
        ]
    steps.append(Step("resolve", agent, later(120), "Done."))
    reopened = rng.random() < 0.08
    if reopened:
        steps += [
            Step("reopen", requester, later(60), "Still not working"),
            Step("resolve", agent, later(60), "Fixed properly this time."),
        ]
    # Stars fall with the effort it took (slow agents, hard items) and with a reopening.
    score = 4.3 - 1.4 * math.log(max(effort, 0.2)) - (1.5 if reopened else 0) + rng.gauss(0, 0.9)
    stars = min(5, max(1, round(score)))
    if rng.random() < 0.8:
        steps.append(Step("rate", requester, later(30), stars=stars))
    if rng.random() < 0.7:
        steps.append(Step("close", requester, later(30)))
    if stars >= 4 and rng.random() < 0.3:  # a thank-you with points from the monthly allowance
        value = rng.choice(org.VALUES)
        steps.append(
            Step("recognise", requester, later(20), text=rng.choice(THANKS[value]), to=agent,
                 points=rng.choice([10, 20, 30]), value=value)
        )  # fmt: skip
    return steps


THANKS = {
    "customer_first": ["You treated my request as if it were a customer's, thank you!",
                       "Quick, friendly and exactly what I needed."],
    "teamwork": ["Thank you for pulling in the right people so quickly.",
                 "Great help across departments, much appreciated."],
    "integrity": ["Thanks for telling me straight what was possible and when.",
                  "Clear and honest about the timeline, thank you."],
    "ownership": ["You followed it through to the end without me chasing, thanks!",
                  "Took it on and saw it done, thank you."],
    "innovation": ["Clever fix, it saves me time every week now.",
                   "Thanks for finding a smarter way to do this."],
}  # fmt: skip


@dataclass
class Summary:
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    stars: Counter[int] = field(default_factory=Counter)
    not_invited: int = 0
    platform: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0

    def counts(self) -> dict[str, Any]:
        """What a journal keeps, so that a resumed run's summary covers the whole run."""
        return {
            "sent": dict(self.sent),
            "refused": dict(self.refused),
            "stars": {str(k): v for k, v in self.stars.items()},
            "not_invited": self.not_invited,
        }

    def restore(self, counts: dict[str, Any]) -> None:
        self.sent = Counter(counts.get("sent", {}))
        self.refused = Counter(counts.get("refused", {}))
        self.stars = Counter({int(k): v for k, v in counts.get("stars", {}).items()})
        self.not_invited = counts.get("not_invited", 0)


class Journal:
    """The run's progress, in a JSON file replaced atomically after every step."""

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.state: dict[str, Any] = {"fingerprint": fingerprint, "requests": {}}
        self.summary: Summary | None = None
        if path is not None and path.exists():
            loaded = json.loads(path.read_text())
            if loaded.get("fingerprint") != fingerprint:
                raise PlanError(
                    f"the journal {path} belongs to another run ({loaded.get('fingerprint')}); "
                    "use the same options, another --journal, or delete it"
                )
            self.state = loaded

    def get(self, key: str) -> dict[str, Any]:
        found: dict[str, Any] = self.state["requests"].get(key, {})
        return found

    def put(self, key: str, **fields: Any) -> None:
        self.state["requests"].setdefault(key, {}).update(fields)
        if self.summary is not None:
            self.state["summary"] = self.summary.counts()
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.path)


RATE = f"""mutation Rate($id: ID!, $input: RatingInput!) {{
  rate(requestId: $id, input: $input) {{
    __typename ... on Rating {{ status stars }} {PROBLEM_FIELDS}
  }}
}}"""
RATING = "query($id: ID!) { request(id: $id) { rating { status } } }"
RECOGNISE = f"""mutation Thank($input: RecognitionInput!) {{
  giveRecognition(input: $input) {{
    __typename ... on Recognition {{ points }} {PROBLEM_FIELDS}
    ... on AllowanceExceeded {{ message }} ... on RecipientCapReached {{ message }}
  }}
}}"""
REDEMPTION_PROBLEMS = f"{PROBLEM_FIELDS} ... on InsufficientBalance {{ message }} " + (
    "... on OutOfStock { message }"
)
REDEEM = f"""mutation Redeem($reward: ID!) {{
  redeemReward(rewardId: $reward) {{
    __typename ... on Redemption {{ id state }} {REDEMPTION_PROBLEMS}
  }}
}}"""
FULFIL = f"""mutation Fulfil($id: ID!) {{
  fulfilRedemption(id: $id) {{ __typename ... on Redemption {{ id state }} {REDEMPTION_PROBLEMS} }}
}}"""
CANCEL = f"""mutation Cancel($id: ID!, $reason: String!) {{
  cancelRedemption(id: $id, reason: $reason) {{
    __typename ... on Redemption {{ id state }} {REDEMPTION_PROBLEMS}
  }}
}}"""
AVAILABLE = "query($id: ID!) { pointsAccount(personId: $id) { available } }"
REWARD_STOCK = "{ rewards { id cost stock active } }"
REDEMPTIONS = "{ redemptions(first: 100) { id state } }"  # the newest: this run's
OPEN_CAMPAIGN = f"""mutation Open($input: CampaignInput!) {{
  openCampaign(input: $input) {{ __typename ... on Campaign {{ id }} {PROBLEM_FIELDS} }}
}}"""
TO_EVALUATE = "query($id: ID!) { campaign(id: $id) { departmentsToEvaluate { id } } }"
ANSWER = f"""mutation Answer($id: ID!, $input: EvaluationInput!) {{
  answerCampaign(campaignId: $id, input: $input) {{
    __typename ... on EvaluationRecorded {{ campaignId }} {PROBLEM_FIELDS}
  }}
}}"""


class FeedbackPort:
    """Ratings and the evaluation campaign, through the gateway's feedback mutations."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def rate(self, request_id: str, rater: str, stars: int) -> str:
        """'rated', 'not_invited' (skipped, expired, or sampled out), or 'already' (a rerun)."""
        variables = {"id": request_id, "input": {"stars": stars, "comment": _comment(stars)}}
        for attempt in range(40):  # the invitation follows the resolution event
            try:
                await self.gateway.mutate("rate", RATE, variables, actor=rater)
                return "rated"
            except Problem as exc:
                if exc.typename == "NotFound":
                    await asyncio.sleep(min(0.1 * (attempt + 1), 1.0))
                    continue
                if exc.typename != "Conflict":
                    raise
            found = await self.gateway.query(RATING, {"id": request_id}, actor=rater)
            rating = (found.get("request") or {}).get("rating") or {}
            if rating.get("status") == "INVITED":  # invited meanwhile: try again
                continue
            return "already" if rating.get("status") == "RATED" else "not_invited"
        return "not_invited"

    async def campaign(self, admin: str, start: datetime, end: datetime, name: str) -> str:
        result = await self.gateway.mutate(
            "openCampaign",
            OPEN_CAMPAIGN,
            {
                "input": {
                    "name": name,
                    "periodStart": start.isoformat(),
                    "periodEnd": end.isoformat(),
                    "questions": [
                        {"id": "overall", "kind": "SCALE",
                         "texts": {"en": "How satisfied are you overall?",
                                   "zh-CN": "总体满意度如何？"}},
                        {"id": "nps", "kind": "NPS",
                         "texts": {"en": "Would you recommend this department?",
                                   "zh-CN": "您会向同事推荐该部门吗？"}},
                    ],
                }
            },
            actor=admin,
        )  # fmt: skip
        return str(result["id"])

    async def answer(self, campaign_id: str, person: str, rng: random.Random) -> int:
        """The person evaluates every department that served them; the number of answers."""
        found = await self.gateway.query(TO_EVALUATE, {"id": campaign_id}, actor=person)
        answered = 0
        for dept in (found.get("campaign") or {}).get("departmentsToEvaluate") or []:
            overall = rng.choices([1, 2, 3, 4, 5], [1, 2, 5, 10, 7])[0]
            scores = [
                {"questionId": "overall", "score": overall},
                {"questionId": "nps", "score": min(10, max(0, overall * 2 + rng.randint(-2, 1)))},
            ]
            try:
                await self.gateway.mutate(
                    "answerCampaign",
                    ANSWER,
                    {"id": campaign_id, "input": {"providerDepartmentId": dept["id"],
                                                  "scores": scores}},
                    actor=person,
                )  # fmt: skip
                answered += 1
            except Problem as exc:
                if exc.typename != "Conflict":  # answered before an interruption
                    raise
        return answered


def _comment(stars: int) -> str:
    return {
        1: "Took far too long.",
        2: "Slow, and I had to chase it.",
        3: "OK in the end.",
        4: "Quick and helpful.",
        5: "Excellent, thank you!",
    }[stars]


@dataclass
class Simulator:
    gateway: Gateway
    options: Options
    admin: str = "admin"
    on_step: Callable[[str], None] = lambda action: None
    summary: Summary = field(default_factory=Summary)
    journal: Journal = field(default_factory=lambda: Journal(None, ""))

    async def preflight(self, scenarios: list[Scenario]) -> None:
        """Everything the plan needs exists: checked before the first write."""
        found = await self.gateway.query(CATALOG, actor=self.admin)
        have = {i["id"] for i in found["catalog"]}
        missing = sorted({s.item for s in scenarios} - have)
        if missing:
            raise PlanError(
                f"the catalog lacks {', '.join(missing)}: run `icr seed` (same --size) first"
            )
        people = sorted({s.requester for s in scenarios} | {s.agent for s in scenarios})
        absent = []
        for start in range(0, len(people), 1000):  # people(ids:) takes up to 1,000
            page = people[start : start + 1000]
            known = await self.gateway.query(
                "query($ids: [ID!]!) { people(ids: $ids) { id } }", {"ids": page}, actor=self.admin
            )
            absent += [p for p, got in zip(page, known["people"], strict=True) if not got]
        if absent:
            raise PlanError(
                f"{len(absent)} planned people are not in the directory (e.g. {absent[0]}): run "
                f"`icr seed --size {self.options.size}` first"
            )

    async def run(self, scenarios: list[Scenario], journal: Journal) -> Summary:
        self.journal = journal
        started = asyncio.get_running_loop().time()
        feedback = FeedbackPort(self.gateway)
        self.summary.restore(journal.state.get("summary", {}))  # resume
        journal.summary = self.summary
        for s in scenarios:
            saved = journal.get(s.key)
            s.request_id, s.done = saved.get("id"), saved.get("done", 0)
        queue = [(s.steps[s.done].at, n) for n, s in enumerate(scenarios) if s.done < len(s.steps)]
        heapq.heapify(queue)
        interval = 1.0 / self.options.rate
        next_slot = started
        running: set[asyncio.Task[None]] = set()

        async def advance(n: int) -> None:
            s = scenarios[n]
            step = s.steps[s.done]
            if step.hold:
                loop = asyncio.get_running_loop()
                since = s.submitted_at if s.submitted_at is not None else loop.time()
                await asyncio.sleep(max(0.0, since + step.hold - loop.time()))
                self.summary.sent["left past a target"] += 1
            for attempt in range(RETRIES + 1):
                try:
                    await self._step(s, step, feedback)
                    break
                except Unavailable:
                    # The step may have landed: trying it again is safe (a submission is
                    # looked up by its title first, an action already taken is a Conflict
                    # naming the status it led to, a given rating or answer a Conflict).
                    if attempt == RETRIES:
                        raise
                    self.summary.sent["retried after a 503"] += 1
                    await asyncio.sleep(1.0 + attempt)
            s.done += 1
            journal.put(s.key, id=s.request_id, done=s.done)
            self.on_step(step.action)
            if s.done < len(s.steps):
                heapq.heappush(queue, (s.steps[s.done].at, n))

        try:
            while queue or running:
                if not queue:
                    finished, running = await asyncio.wait(running, return_when="FIRST_COMPLETED")
                    for t in finished:
                        t.result()
                    continue
                _, n = heapq.heappop(queue)
                now = asyncio.get_running_loop().time()
                next_slot = max(next_slot + interval, now)
                await asyncio.sleep(max(0.0, next_slot - now))
                running.add(asyncio.create_task(advance(n)))
                finished = {t for t in running if t.done()}
                running -= finished
                for t in finished:
                    t.result()  # a failed step stops the run (the journal keeps its place)
        finally:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        if self.options.campaign and self.options.weeks >= 1:
            today = datetime.now(UTC).replace(microsecond=0)
            key = f"campaign-{journal.fingerprint}"
            if not journal.get(key).get("id"):
                cid = await feedback.campaign(
                    self.admin,
                    today - timedelta(days=1),
                    today + timedelta(minutes=1),
                    f"Quarterly service evaluation ({self.options.seed})",
                )
                journal.put(key, id=cid)
                self.summary.sent["campaign"] += 1
            cid = journal.get(key)["id"]
            # Most people served answer the questionnaire (after the campaign's invitations).
            rng = random.Random(self.options.seed)
            respondents = sorted({s.requester for s in scenarios if s.done >= 3})
            for person in respondents:
                if rng.random() < 0.7:
                    self.summary.sent["evaluation"] += await feedback.answer(cid, person, rng)
        await self.recover()
        await self.redeem(scenarios)
        journal.state["summary"] = self.summary.counts()
        journal.save()
        self.summary.elapsed = asyncio.get_running_loop().time() - started
        await self.observe(scenarios)
        return self.summary

    async def _step(self, s: Scenario, step: Step, feedback: FeedbackPort) -> None:
        if step.action == "submit":
            s.request_id = s.request_id or await self._find_submitted(s)
            if s.request_id is None:
                self.journal.put(s.key, submitting=True)
                result = await self.gateway.mutate(
                    "submitRequest",
                    SUBMIT,
                    {
                        "input": {
                            "catalogItemId": s.item,
                            "title": s.title,
                            "priority": s.priority,
                            "form": s.form,
                        }
                    },
                    actor=s.requester,
                )
                s.request_id = result["id"]
            s.submitted_at = asyncio.get_running_loop().time()
            self.summary.sent["submit"] += 1
            return
        assert s.request_id is not None
        if step.action == "rate":
            outcome = await feedback.rate(s.request_id, step.actor, step.stars)
            if outcome == "not_invited":
                self.summary.not_invited += 1
            else:
                self.summary.sent["rate"] += 1
                self.summary.stars[step.stars] += 1
            return
        if step.action == "recognise":
            try:
                await self.gateway.mutate(
                    "giveRecognition", RECOGNISE,
                    {"input": {"recipientId": step.to, "points": step.points, "value": step.value,
                               "message": step.text}},
                    actor=step.actor,
                )  # fmt: skip
                self.summary.sent["recognise"] += 1
                self.summary.sent["recognition points"] += step.points
            except Problem as exc:
                if exc.typename not in ("AllowanceExceeded", "RecipientCapReached"):
                    raise
                self.summary.sent["recognition over allowance or cap"] += 1
            return
        variables: Json = {"id": s.request_id}
        if step.action == "assign":
            variables["to"] = s.agent
        elif step.text:
            variables["text"] = step.text
        try:
            await self.gateway.mutate(
                step.action, ACTIONS[step.action], variables, actor=step.actor
            )
        except Problem as exc:
            if exc.typename == "Conflict" and exc.body.get("currentStatus") == LEADS_TO.get(
                step.action
            ):
                pass  # done before an interruption, not yet journaled
            else:
                self.summary.refused[f"{step.action}: {exc.typename}"] += 1
                return
        self.summary.sent[step.action] += 1

    async def _find_submitted(self, s: Scenario) -> str | None:
        """A request submitted just before an interruption: its title carries the plan's key."""
        if not self.journal.get(s.key).get("submitting"):
            return None
        found = await self.gateway.query(MINE, {"who": s.requester}, actor=s.requester)
        for node in found["requests"]["nodes"]:
            if node["title"] == s.title:
                return str(node["id"])
        return None

    async def recover(self) -> None:
        """Managers work the recovery requests low ratings opened (the requests service opens
        them, assigned to the rated department's manager): accept, start and resolve each."""
        await asyncio.sleep(2)  # the rating's event reaches the requests service first
        for dept in org.PROVIDERS:
            manager = org.manager_of(dept)
            found = await self.gateway.query(OPEN_ASSIGNED, {"who": manager}, actor=manager)
            for node in found["requests"]["nodes"]:
                for action in ("accept", "start", "resolve"):
                    if action != "resolve" and action not in node["allowedActions"]:
                        continue
                    variables: Json = {"id": node["id"]}
                    if action == "resolve":
                        variables["text"] = "Called the customer, apologised and fixed the cause."
                    try:
                        await self.gateway.mutate(action, ACTIONS[action], variables, actor=manager)
                    except Problem as exc:
                        self.summary.refused[f"recovery {action}: {exc.typename}"] += 1
                        break
                else:
                    self.summary.sent["recovery resolved"] += 1

    async def redeem(self, scenarios: list[Scenario]) -> None:
        """People with points spend some: each of the recognised agents, with a chance, redeems
        the dearest reward they can afford; an administrator fulfils most redemptions and
        cancels a few (out of stock at the supplier), which refunds them."""
        rng = random.Random(f"redeem-{self.options.seed}")
        people = sorted({st.to for s in scenarios for st in s.steps if st.action == "recognise"})
        decisions = {p: (rng.random() < 0.6, rng.random() < 0.85) for p in people}
        rewards = (await self.gateway.query(REWARD_STOCK, actor=self.admin))["rewards"]
        for person in people:
            wants, fulfil = decisions[person]
            key = f"redeem-{self.journal.fingerprint}-{person}"
            entry = self.journal.get(key)
            if not wants or entry.get("decided"):
                continue
            redemption = entry.get("id")
            if redemption is None:
                found = await self.gateway.query(AVAILABLE, {"id": person}, actor=self.admin)
                available = found["pointsAccount"]["available"]
                affordable = [r for r in rewards if r["active"] and 0 < r["cost"] <= available
                              and r["stock"] > 0]  # fmt: skip
                if not affordable:
                    self.journal.put(key, decided="nothing affordable")
                    continue
                reward = max(affordable, key=lambda r: (r["cost"], r["id"]))
                try:
                    result = await self.gateway.mutate(
                        "redeemReward", REDEEM, {"reward": reward["id"]}, actor=person
                    )
                except Problem as exc:  # spent meanwhile, or the last unit went
                    if exc.typename not in ("InsufficientBalance", "OutOfStock"):
                        raise
                    self.journal.put(key, decided=exc.typename)
                    continue
                redemption = result["id"]
                reward["stock"] -= 1
                self.journal.put(key, id=redemption)
                self.summary.sent["redeem"] += 1
            await self._decide(key, redemption, fulfil)

    async def _decide(self, key: str, redemption: str, fulfil: bool) -> None:
        """Fulfils or cancels a redemption once the service has reserved its points."""
        for _ in range(40):
            try:
                if fulfil:
                    await self.gateway.mutate(
                        "fulfilRedemption", FULFIL, {"id": redemption}, actor=self.admin
                    )
                else:
                    await self.gateway.mutate(
                        "cancelRedemption", CANCEL,
                        {"id": redemption, "reason": "Out of stock at the supplier, sorry"},
                        actor=self.admin,
                    )  # fmt: skip
                break
            except Problem as exc:
                if exc.typename != "Conflict":
                    raise
                state = exc.body.get("currentStatus") or ""
                if state in ("FULFILLED", "CANCELLED", "fulfilled", "cancelled"):
                    break  # decided before an interruption
                await asyncio.sleep(0.25)  # still being reserved
        else:
            self.summary.refused["redemption never reserved"] += 1
            return
        self.summary.sent["fulfil" if fulfil else "cancel redemption"] += 1
        self.journal.put(key, decided="fulfilled" if fulfil else "cancelled")

    async def observe(self, scenarios: list[Scenario]) -> None:
        """What the services report about the run's requests (the summary's right column)."""
        ids = [s.request_id for s in scenarios if s.request_id]
        statuses: Counter[str] = Counter()
        rated: Counter[int] = Counter()
        breached = reopened = 0
        for start in range(0, len(ids), 500):
            found = await self.gateway.query(
                BY_IDS, {"ids": ids[start : start + 500]}, actor=self.admin
            )
            for r in found["requestsByIds"]:
                if r is None:
                    continue
                statuses[r["status"]] += 1
                breached += r["breached"]
                reopened += r["reopenCount"]
                rating = r.get("rating") or {}
                if rating.get("status") == "RATED":
                    rated[rating["stars"]] += 1
        mine = {
            entry["id"]
            for key, entry in self.journal.state["requests"].items()
            if key.startswith("redeem-") and entry.get("id")
        }
        redemptions: Counter[str] = Counter()
        if mine:
            found = await self.gateway.query(REDEMPTIONS, actor=self.admin)
            redemptions.update(r["state"] for r in found["redemptions"] if r["id"] in mine)
        self.summary.platform = {
            "redemptions": dict(redemptions),
            "requests": len(ids),
            "statuses": dict(statuses),
            "breached": breached,
            "reopened": reopened,
            "rated": sum(rated.values()),
            "stars": dict(rated),
        }


def fingerprint(options: Options) -> str:
    return f"seed={options.seed},weeks={options.weeks},size={options.size}"


def describe(scenarios: list[Scenario]) -> dict[str, int]:
    steps: Counter[str] = Counter(st.action for s in scenarios for st in s.steps)
    return {"requests": len(scenarios), **steps}


def as_json(scenarios: list[Scenario]) -> list[Json]:
    return [asdict(s) for s in scenarios]
