"""The demo organisation as data: departments, people, bilingual catalogs, calendars.

Pure and deterministic: the same size gives the same organisation, and a larger size only adds
people (ids are per department and index, names drawn from a generator seeded by the id), so a
seed can be re-run, resumed or grown without renaming anyone."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

WEEK = "09:00-12:00,13:00-18:00"
OFFICE_WEEK = {day: WEEK for day in ("mon", "tue", "wed", "thu", "fri")}
# The service desk answers around the clock: its clocks never pause for the night.
ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

# Public holidays in mainland China, 2026 and 2027 (the State Council's schedule for 2026; the
# 2027 one follows the usual pattern), and the weekend days worked in exchange.
CN_HOLIDAYS = [
    "2026-01-01",
    "2026-01-02",
    "2026-02-16",
    "2026-02-17",
    "2026-02-18",
    "2026-02-19",
    "2026-02-20",
    "2026-04-06",
    "2026-05-01",
    "2026-05-04",
    "2026-05-05",
    "2026-06-19",
    "2026-09-25",
    "2026-10-01",
    "2026-10-02",
    "2026-10-05",
    "2026-10-06",
    "2026-10-07",
    "2027-01-01",
    "2027-02-05",
    "2027-02-08",
    "2027-02-09",
    "2027-02-10",
    "2027-02-11",
    "2027-04-05",
    "2027-05-03",
    "2027-05-04",
    "2027-05-05",
    "2027-06-09",
    "2027-09-15",
    "2027-10-01",
    "2027-10-04",
    "2027-10-05",
    "2027-10-06",
    "2027-10-07",
]
CN_EXTRA_WORKING_DAYS = [
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-27",
    "2026-10-10",
    "2027-02-20",
    "2027-09-26",
]
DE_HOLIDAYS = [
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-01",
    "2026-05-14",
    "2026-05-25",
    "2026-10-03",
    "2026-12-25",
    "2026-12-26",
    "2027-01-01",
    "2027-03-26",
    "2027-03-29",
    "2027-05-01",
    "2027-05-06",
    "2027-05-17",
    "2027-10-03",
    "2027-12-25",
    "2027-12-26",
]


@dataclass(frozen=True)
class DepartmentPlan:
    id: str
    en: str
    zh: str
    weight: int  # share of the headcount
    agents: int  # agents per 100 people of the organisation (providers only)
    timezone: str = "Asia/Shanghai"
    week: dict[str, str] = field(default_factory=lambda: dict(OFFICE_WEEK))
    holidays: tuple[str, ...] = tuple(CN_HOLIDAYS)
    extra_working_days: tuple[str, ...] = tuple(CN_EXTRA_WORKING_DAYS)
    parent: str | None = None

    def calendar(self) -> Json:
        return {
            "timezone": self.timezone,
            "week": self.week,
            "holidays": list(self.holidays),
            "extraWorkingDays": list(self.extra_working_days),
        }

    def names(self) -> Json:
        return {"en": self.en, "zh-CN": self.zh}


DEPARTMENTS = [
    DepartmentPlan(
        "it", "IT", "信息技术部", 8, 3, week=dict(ALWAYS), holidays=(), extra_working_days=()
    ),
    DepartmentPlan("hr", "Human Resources", "人力资源部", 5, 2),
    DepartmentPlan("finance", "Finance", "财务部", 6, 2),
    DepartmentPlan("legal", "Legal", "法务部", 3, 1),
    DepartmentPlan("facilities", "Facilities", "行政后勤部", 4, 2),
    DepartmentPlan("procurement", "Procurement", "采购部", 4, 1),
    DepartmentPlan("sales", "Sales", "销售部", 20, 0),
    DepartmentPlan(
        "sales-emea",
        "Sales EMEA",
        "欧洲销售部",
        6,
        0,
        timezone="Europe/Berlin",
        holidays=tuple(DE_HOLIDAYS),
        extra_working_days=(),
        parent="sales",
    ),
    DepartmentPlan("marketing", "Marketing", "市场部", 10, 0),
    DepartmentPlan("engineering", "Engineering", "研发部", 28, 0),
    DepartmentPlan("customer-service", "Customer Service", "客户服务部", 6, 0),
]
BY_ID = {d.id: d for d in DEPARTMENTS}

# People every example in the docs can rely on, whatever the size.
ANCHORS: list[Json] = [
    {"id": "admin", "name": "Administrator", "departmentId": "it", "roles": ["ADMIN"]},
    {
        "id": "mei",
        "name": "Zhang Mei",
        "departmentId": "it",
        "roles": ["MANAGER"],
        "locale": "zh-CN",
    },
    {"id": "bo", "name": "Bo Chen", "departmentId": "it", "roles": ["AGENT"]},
    {"id": "ana", "name": "Ana Lopez", "departmentId": "sales", "roles": ["EMPLOYEE"]},
    {
        "id": "li",
        "name": "Li Na",
        "departmentId": "sales",
        "roles": ["MANAGER"],
        "locale": "zh-CN",
    },
]
MANAGERS = {"it": "mei", "sales": "li"}

ZH_FAMILY = [
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Zhao",
    "Huang",
    "Zhou",
    "Wu",
    "Xu",
    "Sun",
    "Hu",
    "Zhu",
    "Gao",
    "Lin",
    "He",
    "Guo",
    "Ma",
    "Luo",
]
ZH_GIVEN = [
    "Wei",
    "Fang",
    "Min",
    "Jing",
    "Lei",
    "Yan",
    "Jun",
    "Hui",
    "Qiang",
    "Xiu",
    "Tao",
    "Ying",
    "Hao",
    "Lan",
    "Yu",
    "Jie",
    "Ping",
    "Xin",
    "Bin",
    "Ning",
]
EN_GIVEN = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Henry",
    "Iris",
    "Jonas",
    "Katrin",
    "Lukas",
    "Maria",
    "Noah",
    "Olivia",
    "Paul",
    "Sofia",
    "Tom",
    "Uta",
    "Vera",
]
EN_FAMILY = [
    "Müller",
    "Schmidt",
    "Smith",
    "Brown",
    "Garcia",
    "Rossi",
    "Novak",
    "Dubois",
    "Jensen",
    "Silva",
    "Weber",
    "Fischer",
    "Martin",
    "Taylor",
    "Kowalski",
    "Andersen",
]


def person_name(person_id: str, timezone: str) -> tuple[str, str]:
    """A plausible name and locale for a generated person, drawn from a generator seeded by the
    id: the same id always gets the same name."""
    pick = random.Random(person_id)
    if timezone == "Europe/Berlin" or pick.random() < 0.15:
        return f"{pick.choice(EN_GIVEN)} {pick.choice(EN_FAMILY)}", "en"
    return f"{pick.choice(ZH_FAMILY)} {pick.choice(ZH_GIVEN)}", "zh-CN"


def headcounts(size: int) -> dict[str, int]:
    """People per department for an organisation of `size` (largest remainder, at least 2)."""
    total = sum(d.weight for d in DEPARTMENTS)
    raw = {d.id: size * d.weight / total for d in DEPARTMENTS}
    counts = {k: max(2, int(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True):
        if sum(counts.values()) >= size:
            break
        counts[k] += 1
    return counts


def people(size: int) -> list[Json]:
    """Every person of an organisation of `size`: the anchors, a manager per department,
    agents in the providing departments, employees; in the order they are to be written."""
    out = [dict(a) for a in ANCHORS]
    taken = {a["departmentId"]: 0 for a in ANCHORS}
    for a in ANCHORS:
        taken[a["departmentId"]] += 1
    for dept, count in headcounts(size).items():
        plan = BY_ID[dept]
        agents = max(1, round(plan.agents * size / 100)) if plan.agents else 0
        for i in range(1, count - taken.get(dept, 0) + 1):
            pid = f"{dept}.{i:03d}"
            name, locale = person_name(pid, plan.timezone)
            if i == 1 and dept not in MANAGERS:
                roles = ["MANAGER"]
            elif i <= agents + (0 if dept in MANAGERS else 1):
                roles = ["AGENT"]
            else:
                roles = ["EMPLOYEE"]
            out.append(
                {"id": pid, "name": name, "departmentId": dept, "roles": roles, "locale": locale}
            )
    for p in out:
        p.setdefault("locale", "en")
    return out


def manager_of(dept: str) -> str:
    return MANAGERS.get(dept, f"{dept}.001")


def targets(fr_low: int, res_low: int, factor: float = 0.5) -> Json:
    """First response and resolution minutes per priority: each step up takes `factor` of the
    one below (critical is the fastest)."""
    out = {}
    for n, priority in enumerate(("low", "medium", "high", "critical")):
        out[priority] = {
            "first_response_minutes": max(1, round(fr_low * factor**n)),
            "resolution_minutes": max(2, round(res_low * factor**n)),
        }
    return out


def _labels(en: str, zh: str) -> Json:
    return {"en": en, "zh-CN": zh}


def _choice(name: str, en: str, zh: str, options: list[str], *, required: bool = True) -> Json:
    return {
        "type": "choice",
        "name": name,
        "label": _labels(en, zh),
        "required": required,
        "options": options,
    }


def _text(name: str, en: str, zh: str, *, required: bool = False, max_length: int = 500) -> Json:
    return {
        "type": "text",
        "name": name,
        "label": _labels(en, zh),
        "required": required,
        "max_length": max_length,
    }


@dataclass(frozen=True)
class ItemPlan:
    id: str
    provider: str
    team: str
    en: str
    zh: str
    desc_en: str
    desc_zh: str
    fields: list[Json]
    targets: Json
    default_priority: str = "medium"
    difficulty: float = 1.0  # the simulation's relative effort of a request for it

    def input(self) -> Json:
        return {
            "id": self.id,
            "providerDepartmentId": self.provider,
            "names": _labels(self.en, self.zh),
            "descriptions": _labels(self.desc_en, self.desc_zh),
            "owningTeam": self.team,
            "fields": self.fields,
            "targets": self.targets,
            "defaultPriority": self.default_priority,
        }


CATALOG = [
    ItemPlan(
        "laptop",
        "it",
        "it-desk",
        "New laptop",
        "新笔记本电脑",
        "A laptop for a new or current employee.",
        "为新员工或现有员工配置笔记本电脑。",
        [_choice("model", "Model", "型号", ["standard", "pro"]), _text("notes", "Notes", "备注")],
        targets(120, 2880),
        difficulty=1.5,
    ),
    ItemPlan(
        "password-reset",
        "it",
        "it-desk",
        "Password reset",
        "密码重置",
        "Unlock an account or reset a password.",
        "解锁账户或重置密码。",
        [_text("account", "Account", "账户", required=True, max_length=100)],
        targets(8, 30),
        default_priority="high",
        difficulty=0.3,
    ),
    ItemPlan(
        "software-access",
        "it",
        "it-apps",
        "Software access",
        "软件权限申请",
        "Access to a business application.",
        "申请业务系统的访问权限。",
        [
            _choice("application", "Application", "应用", ["crm", "erp", "wiki", "vpn"]),
            _text("justification", "Justification", "申请理由", required=True),
        ],
        targets(60, 960),
    ),
    ItemPlan(
        "onboarding",
        "hr",
        "hr-ops",
        "Employee onboarding",
        "员工入职",
        "Contract, badge and first-day plan for a new hire.",
        "新员工的合同、工牌与入职安排。",
        [
            {
                "type": "date",
                "name": "start_date",
                "label": _labels("Start date", "入职日期"),
                "required": True,
            },
            _text("role", "Role", "职位", required=True, max_length=100),
        ],
        targets(480, 7200),
        difficulty=2.0,
    ),
    ItemPlan(
        "employment-certificate",
        "hr",
        "hr-ops",
        "Employment certificate",
        "在职证明",
        "A signed certificate of employment.",
        "开具盖章的在职证明。",
        [_choice("language", "Language", "语言", ["zh-CN", "en"])],
        targets(240, 1440),
        difficulty=0.6,
    ),
    ItemPlan(
        "expense-claim",
        "finance",
        "fin-ap",
        "Expense reimbursement",
        "费用报销",
        "Reimbursement of business expenses.",
        "报销因公发生的费用。",
        [
            {
                "type": "number",
                "name": "amount",
                "label": _labels("Amount (CNY)", "金额（元）"),
                "required": True,
                "minimum": 1,
                "maximum": 200000,
            },
            _choice("category", "Category", "类别", ["travel", "meals", "equipment", "other"]),
        ],
        targets(480, 4320),
    ),
    ItemPlan(
        "invoice",
        "finance",
        "fin-ar",
        "Customer invoice",
        "开具发票",
        "Issue an invoice to a customer.",
        "为客户开具发票。",
        [_text("customer", "Customer", "客户", required=True, max_length=200)],
        targets(240, 1440),
        difficulty=0.8,
    ),
    ItemPlan(
        "contract-review",
        "legal",
        "legal-commercial",
        "Contract review",
        "合同审核",
        "Review of a customer or supplier contract.",
        "审核客户或供应商合同。",
        [
            _choice("kind", "Kind", "类型", ["customer", "supplier", "nda"]),
            _text("counterparty", "Counterparty", "合同方", required=True, max_length=200),
        ],
        targets(960, 7200),
        difficulty=2.5,
    ),
    ItemPlan(
        "meeting-room",
        "facilities",
        "fac-desk",
        "Meeting room setup",
        "会议室布置",
        "Set up a room for a meeting or an event.",
        "为会议或活动布置会议室。",
        [_choice("size", "Size", "规模", ["small", "medium", "large"])],
        targets(120, 960),
        difficulty=0.7,
    ),
    ItemPlan(
        "repair",
        "facilities",
        "fac-maintenance",
        "Office repair",
        "办公室维修",
        "Something in the office is broken.",
        "办公室设施报修。",
        [_text("location", "Location", "位置", required=True, max_length=200)],
        targets(240, 2880),
    ),
    ItemPlan(
        "purchase",
        "procurement",
        "proc-buying",
        "Purchase request",
        "采购申请",
        "Buy goods or services from a supplier.",
        "向供应商采购商品或服务。",
        [
            {
                "type": "number",
                "name": "budget",
                "label": _labels("Budget (CNY)", "预算（元）"),
                "required": True,
                "minimum": 1,
            },
            _text("supplier", "Supplier", "供应商"),
        ],
        targets(480, 7200),
        default_priority="low",
        difficulty=1.8,
    ),
]
PROVIDERS = sorted({i.provider for i in CATALOG})


# Incentives: the points policy, the company's values (recognition tags) and the reward catalog.
VALUES = ["customer_first", "teamwork", "integrity", "ownership", "innovation"]
POLICY: Json = {
    "rules": [
        {
            "id": "agent-sla-rated",
            "on": "RESOLUTION",
            "pays": "ASSIGNEE",
            "points": 10,
            "when": {"slaMet": True, "minStars": 4},
        },
        {
            "id": "agent-sla",
            "on": "RESOLUTION",
            "pays": "ASSIGNEE",
            "points": 3,
            "when": {"slaMet": True},
        },
        {
            "id": "team-share",
            "on": "RESOLUTION",
            "pays": "PROVIDER_DEPARTMENT",
            "points": 3,
            "when": {"slaMet": True, "minStars": 4},
        },
        {"id": "rater-feedback", "on": "RATING_GIVEN", "pays": "RATER", "points": 1},
    ],
    "recognition": {
        "allowanceByRole": [
            {"role": "EMPLOYEE", "points": 100},
            {"role": "AGENT", "points": 100},
            {"role": "MANAGER", "points": 200},
            {"role": "ADMIN", "points": 100},
        ],
        "minMessageLength": 20,
        "values": VALUES,
        "perRecipientCapPerMonth": 200,
    },
    "pairCapPerMonth": 500,
    "notes": "Demo organisation: SLA met and rated 4+ pays the agent and the team; every rating "
    "pays its rater a point.",
}


@dataclass(frozen=True)
class RewardPlan:
    id: str
    en: str
    zh: str
    desc_en: str
    desc_zh: str
    cost: int
    stock: int

    def input(self) -> Json:
        return {
            "id": self.id,
            "names": {"en": self.en, "zh-CN": self.zh},
            "descriptions": {"en": self.desc_en, "zh-CN": self.desc_zh},
            "cost": self.cost,
            "stock": self.stock,
        }


REWARDS = [
    RewardPlan(
        "mug",
        "ICR mug",
        "ICR 马克杯",
        "A ceramic mug with the ICR logo.",
        "印有 ICR 标志的陶瓷马克杯。",
        20,
        200,
    ),
    RewardPlan(
        "coffee",
        "Coffee voucher",
        "咖啡券",
        "Ten coffees at the canteen.",
        "食堂咖啡十杯。",
        40,
        500,
    ),
    RewardPlan(
        "book",
        "Book of your choice",
        "自选图书",
        "Any book up to 150 CNY.",
        "任选一本 150 元以内的图书。",
        80,
        100,
    ),
    RewardPlan(
        "charity",
        "Charity donation",
        "公益捐赠",
        "100 CNY to a charity you choose.",
        "以您的名义向公益机构捐赠 100 元。",
        100,
        1000,
    ),
    RewardPlan(
        "headphones",
        "Noise-cancelling headphones",
        "降噪耳机",
        "For focused work in an open office.",
        "开放式办公室专注工作之选。",
        300,
        20,
    ),
    RewardPlan(
        "day-off",
        "An extra day off",
        "额外带薪假一天",
        "One paid day off, agreed with your manager.",
        "与经理商定的一天带薪假。",
        500,
        50,
    ),
]
