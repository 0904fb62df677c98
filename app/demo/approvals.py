"""The demo district's projects and their two years of approvals, written through the service layer.

Two parts, kept apart so the history is reproducible and testable without a database:

* the **scenario** — pure functions of the seed, the scale, the working-day calendar and today:
  :func:`plan_projects` (what projects the district registers, when, for how much) and :func:`schedule`
  (given each project's approval plan, every dated step of its one-window flow: open the stage's
  application, attach materials, submit, a return once (一次性告知), acceptance — some 容缺 with a promised
  supplement made on time or late —, departments' correction requests merged into one letter, the
  resubmission, every department's opinion, unified issuance, the project's status);
* the **executor** — :func:`generate`: registers each project (footprint on the base map, pre-evaluation,
  plan with the items the pre-evaluation triggers), then runs the scenario's steps in date order, each
  simulated day in one transaction of :class:`~app.demo.clock.Clock`, as the people of
  :mod:`app.demo.actors` with the grants their roles have. A refused call is a bug of the scenario: it is
  raised, never swallowed.

The KPIs land on the district's figures by quota, not by coin flips: items are decided in the order the
scenario builds them, and whether an item decided by today finishes early (提前办结) or went through a
correction (补正) follows a deterministic low-discrepancy sequence, so of any number of decided items the
shares are the targets to within one item (:class:`Quota`). Items still open today (the last stage of
projects in progress) are left running; some of them are past their promised limit (red warnings), and
some 容缺 promises are overdue.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from analysis.checkplan import CheckPlan
from analysis.engine import evaluate
from analysis.footprint import parse_footprint
from analysis.rules.loader import get_ruleset
from app.auth.policy import Action, Role
from app.calendar.store import load_calendar
from app.calendar.workdays import WorkCalendar
from app.demo.actors import Person
from app.demo.clock import at
from app.demo.context import HistoryContext, Scale
from app.demo.pdf import small_pdf
from app.demo.places import Site, SiteKind, candidates
from app.materials import service as materials
from app.materials.storage import BlobStore
from app.orgs.service import ADMIN_ORG, OrgKind
from app.preevaluation.store import store_report_audited
from app.projects import service as projects
from app.projects.models import FootprintIn, PlanLink, ProjectCreate, ProjectStatus, ProjectUpdate, Tier
from app.projects.plan import fetch_items
from app.projects.preevaluation_link import create_plan_with_pre_evaluation
from app.projects.templates import STAGES, checklist
from app.window import applications, intake, review
from app.window.models import (
    AcceptBody,
    ApplicationCreate,
    CorrectionRequestBody,
    Gap,
    LetterBody,
    OpinionBody,
    Point,
    ReturnBody,
)

# The district's figures (seed case): 提前办结率 and 一次性通过率.
EARLY_RATE = 0.266
ONE_TIME_PASS_RATE = 0.98
PROJECTS = {"small": 24, "district": 300, "full": 300}
# Projects registered and planned but not started (储备), and the working days of building works between
# the construction permit and completion acceptance (public works here take one to two years).
RESERVE_SHARE = 0.15
BUILDING_DAYS = (220, 480)
# The minute of the day that splits a day's steps into two stamped blocks.
NOON = 12 * 60

# Project units the demo adds (the seed has only 区建筑工务署 ``works``), and sub-district offices act as
# units of their own small works.
UNITS: list[tuple[str, str, str]] = [
    ("metro-group", "深圳市地铁集团有限公司", "Shenzhen Metro Group"),
    ("renewal-co", "龙岗区城市更新投资有限公司", "Longgang Urban Renewal Investment Co."),
    ("water-group", "龙岗区水务集团有限公司", "Longgang Water Group"),
    ("talent-housing", "龙岗区人才安居有限公司", "Longgang Talent Housing Co."),
    ("city-invest", "龙岗区城市建设投资集团有限公司", "Longgang Urban Construction Investment Group"),
]
SUBDISTRICT_ZH = {
    "pinghu": "平湖街道",
    "bantian": "坂田街道",
    "buji": "布吉街道",
    "nanwan": "南湾街道",
    "jihua": "吉华街道",
    "henggang": "横岗街道",
    "yuanshan": "园山街道",
    "longcheng": "龙城街道",
    "longgang": "龙岗街道",
    "baolong": "宝龙街道",
    "pingdi": "坪地街道",
}
PLACES = (
    "大芬", "丹竹头", "木棉湾", "坂雪岗", "岗头", "甘坑", "李朗", "沙湾", "水径", "信义", "爱联", "嶂背",
    "盛平", "回龙埔", "黄阁", "龙西", "五联", "宝龙", "同乐", "南联", "新生", "六约", "四联", "西坑",
    "安良", "保安", "荷坳", "大康", "坪西", "年丰", "红花岭", "清林", "白石塘", "上李朗", "樟树布", "丹平",
)  # fmt: skip
FUNDING = ("区财政资金", "市区共担资金", "地方政府专项债券", "中央预算内投资", "区财政资金及专项债券")
WORKERS = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭")
GIVEN = ("建华", "晓东", "丽萍", "志强", "海燕", "国庆", "文静", "伟", "敏", "俊杰", "秀英", "振宇")


@dataclass(frozen=True)
class Kind:
    """A kind of project the district builds."""

    key: str
    facility: str  # what is built, as names say it
    actions: tuple[str, ...]
    template: str  # approval plan template (project type of the library)
    check_type: str  # pre-evaluation project type
    site: SiteKind
    land_uses: tuple[str, ...]
    owner: str  # owning department
    units: tuple[str, ...]  # project units ("sd" = the sub-district's own office)
    invest: tuple[int, int]  # 万元
    weight: float


KINDS: tuple[Kind, ...] = (
    Kind("primary", "学校", ("新建工程", "改扩建工程"), "house_building", "school", "parcel", ("GIC5",),
         "education", ("works",), (8000, 60000), 0.16),
    Kind("kindergarten", "幼儿园", ("新建工程",), "house_building", "school", "parcel", ("GIC5",),
         "education", ("works", "sd"), (900, 2800), 0.08),
    Kind("hospital", "医院", ("新建工程", "扩建工程"), "house_building", "hospital", "parcel", ("GIC4",),
         "health", ("works",), (30000, 150000), 0.05),
    Kind("clinic", "社区健康服务中心", ("新建工程",), "house_building", "hospital", "parcel", ("GIC4",),
         "health", ("works", "sd"), (600, 2500), 0.06),
    Kind("culture", "文体中心", ("新建工程", "提升改造工程"), "house_building", "public_facility", "parcel",
         ("GIC2",), "culture", ("works", "sd"), (3000, 40000), 0.07),
    Kind("elderly", "长者服务中心", ("新建工程",), "house_building", "public_facility", "parcel",
         ("GIC1", "GIC9"), "health", ("works", "sd"), (800, 6000), 0.05),
    Kind("housing", "人才住房", ("建设工程",), "house_building", "housing", "parcel", ("R4",),
         "housing", ("talent-housing", "renewal-co"), (20000, 120000), 0.10),
    Kind("park", "公园", ("建设工程", "提升改造工程"), "park_greening", "park", "parcel", ("G1",),
         "forestry", ("sd", "city-invest"), (500, 8000), 0.12),
    Kind("road", "道路", ("改造工程", "拓宽工程", "品质提升工程"), "municipal_road", "road", "road", (),
         "transport", ("city-invest", "metro-group", "works"), (1500, 30000), 0.17),
    Kind("river", "河道", ("综合整治工程", "防洪达标工程"), "water_works", "water_works", "river", (),
         "water", ("water-group",), (2000, 50000), 0.09),
    Kind("station", "公交首末站", ("新建工程",), "house_building", "public_facility", "parcel", ("S4",),
         "transport", ("metro-group", "city-invest"), (700, 4000), 0.05),
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ scenario


@dataclass(frozen=True)
class ProjectSpec:
    """One project the district registers (pure)."""

    key: int
    kind: str
    place: str
    action: str
    unit: str  # org code, or "sd" (the office of the sub-district the site lies in)
    top_down: bool  # registered by its owning department (with the parcel it implements)
    investment_wan: Decimal
    funding_source: str
    registered: date
    planned_start: date
    demolition_pct: Decimal
    pace: float  # 0..1: how quickly the unit moves between stages


def kind_of(key: str) -> Kind:
    """The kind named ``key``."""
    return next(k for k in KINDS if k.key == key)


def plan_projects(seed: int, scale: Scale, cal: WorkCalendar, start: date, today: date) -> list[ProjectSpec]:
    """The projects of the history, in registration order."""
    rng = random.Random(f"{seed}:projects")
    n = PROJECTS[scale]
    weights = [k.weight for k in KINDS]
    last = today - timedelta(days=20)
    span = (last - start).days
    out = []
    for key in range(n):
        kind = rng.choices(KINDS, weights)[0]
        # More registrations early in the history, so that some projects are complete by today.
        day = cal.add_working_days(start + timedelta(days=int(span * rng.random() ** 1.4)), 0)
        lo, hi = kind.invest
        invest = Decimal(round(math.exp(rng.uniform(math.log(lo), math.log(hi))) / 10) * 10)
        out.append(
            ProjectSpec(
                key=key,
                kind=kind.key,
                place=rng.choice(PLACES),
                action=rng.choice(kind.actions),
                unit=rng.choice(kind.units),
                top_down=rng.random() < 0.4,
                investment_wan=invest,
                funding_source=rng.choice(FUNDING),
                registered=min(day, today),
                planned_start=day + timedelta(days=rng.randint(200, 420)),
                demolition_pct=Decimal(rng.choice((0, 10, 25, 40, 60, 80))),
                pace=rng.random(),
            )
        )
    out.sort(key=lambda s: (s.registered, s.key))
    return out


@dataclass(frozen=True)
class ItemShape:
    """What the schedule needs of an item of a project's plan."""

    id: int
    code: str
    stage: str
    promised_days: int


StepKind = Literal[
    "status",
    "demolition",
    "open",
    "attach",
    "submit",
    "return",
    "reattach",
    "accept",
    "supplement",
    "request",
    "letter",
    "resubmit",
    "opinion",
    "issue",
]


@dataclass(frozen=True)
class Step:
    """One dated call of the history."""

    day: date
    minute: int  # minutes after midnight (the order of the day's steps)
    project: int  # ProjectSpec.key
    kind: StepKind
    stage: str = ""
    item: int = 0  # ItemShape.id
    gap: str | None = None  # accept: the conditional material left for later (容缺)
    due: date | None = None  # accept: the promised supplement date
    status: str | None = None  # status: the project's new status
    decision: str = "approve"


class Quota:
    """A low-discrepancy yes/no sequence: after n draws, exactly round-down(rate × n) or one more are yes."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.n = 0
        self.hits = 0

    def peek(self) -> bool:
        """Whether the next draw is a yes."""
        return self.hits + 1 <= self.rate * (self.n + 1) + 1e-9

    def take(self, hit: bool) -> None:
        """Record the draw."""
        self.n += 1
        self.hits += hit


def _gap_material(template: str, codes: list[str]) -> str | None:
    """The first conditional material of the stage's checklist (the one a 容缺 acceptance leaves out)."""
    for m in checklist(template, codes):
        if not m.required and m.code != "owner_consent":
            return m.code
    return None


@dataclass
class _Flow:
    """The schedule under construction."""

    cal: WorkCalendar
    today: date
    steps: list[Step] = field(default_factory=list)
    early: Quota = field(default_factory=lambda: Quota(EARLY_RATE))
    corrected: Quota = field(default_factory=lambda: Quota(1 - ONE_TIME_PASS_RATE))

    def wd(self, day: date, n: int) -> date:
        return self.cal.add_working_days(day, n)

    def add(self, day: date, hour: float, project: int, kind: StepKind, **kw: Any) -> None:
        self.steps.append(Step(day, int(hour * 60), project, kind, **kw))


def _stage(
    flow: _Flow, rng: random.Random, spec: ProjectSpec, stage: str, items: list[ItemShape], opened: date
) -> date | None:
    """The steps of one stage's application opened on ``opened``; its issue day, or None when the stage is
    still open today."""
    today, key = flow.today, spec.key
    template = kind_of(spec.kind).template
    if stage == "construction":
        flow.add(opened, 8.5, key, "demolition")
    flow.add(opened, 9, key, "open", stage=stage)
    flow.add(opened, 9.1, key, "attach", stage=stage)
    submitted = flow.wd(opened, rng.randint(1, 3))
    flow.add(submitted, 9.5, key, "submit", stage=stage)
    if rng.random() < 0.12:  # returned once with one list of points (一次性告知), supplied and submitted
        flow.add(submitted, 10.5, key, "return", stage=stage)
        submitted = flow.wd(submitted, rng.randint(2, 4))
        flow.add(submitted, 9, key, "reattach", stage=stage)
        flow.add(submitted, 9.5, key, "submit", stage=stage)
    accepted = flow.wd(submitted, 1)
    recent = (today - accepted).days < 150
    gap = _gap_material(template, [i.code for i in items]) if rng.random() < 0.3 else None
    supplied, due = accepted, None
    if gap is not None:  # 容缺受理: supplied the next working day, on time or after the promised date
        supplied = flow.wd(accepted, 1)
        late = rng.random() < 0.3
        due = accepted if late else supplied + timedelta(days=rng.randint(2, 7))
        if recent and rng.random() < 0.5:  # not supplied yet today: overdue once its date has passed
            supplied = today + timedelta(days=30)
    flow.add(accepted, 10, key, "accept", stage=stage, gap=gap, due=due)
    if gap is not None:
        flow.add(supplied, 9, key, "supplement", stage=stage)
    # Decisions: quota over the items decided by today; some items of a recent application are still open.
    letter = flow.wd(accepted, 2)
    back = flow.wd(letter, rng.randint(3, 8))
    decisions: dict[int, date | None] = {}
    corrected: list[int] = []
    for item in items:
        p = item.promised_days
        if recent and rng.random() < 0.35:
            decisions[item.id] = None  # still with the department today
            continue
        early, corr = flow.early.peek(), flow.corrected.peek()
        if early:
            used = rng.randint(max(3, math.ceil(0.3 * p)), p - 1)
        elif rng.random() < 0.08:
            used = p + rng.randint(1, 3)  # decided, but past the promised limit
        else:
            used = p
        decided = flow.wd(back, used - 2) if corr else flow.wd(accepted, used)
        if decided > today or decided < supplied:  # never decided before the 容缺 supplement
            decisions[item.id] = None
            continue
        flow.early.take(early)
        flow.corrected.take(corr)
        decisions[item.id] = decided
        if corr:
            corrected.append(item.id)
    if corrected:
        for item_id in corrected:
            flow.add(letter, 11, key, "request", stage=stage, item=item_id)
        flow.add(letter, 14, key, "letter", stage=stage)
        flow.add(back, 9, key, "resubmit", stage=stage)
    for item_id, when in decisions.items():
        if when is not None:
            decision = "approve_conditional" if rng.random() < 0.1 else "approve"
            flow.add(when, 15, key, "opinion", stage=stage, item=item_id, decision=decision)
    if any(d is None for d in decisions.values()):
        return None
    issued = flow.wd(max(d for d in decisions.values() if d is not None), rng.randint(0, 2))
    flow.add(issued, 16.5, key, "issue", stage=stage)
    if stage == "construction":
        flow.add(issued, 17, key, "status", status=ProjectStatus.CONSTRUCTION.value)
    if stage == "completion":
        flow.add(issued, 17, key, "status", status=ProjectStatus.COMPLETED.value)
    return issued


def schedule(
    seed: int,
    specs: list[ProjectSpec],
    plans: dict[int, list[ItemShape]],
    cal: WorkCalendar,
    today: date,
) -> list[Step]:
    """Every step of the projects' approvals up to ``today``, in execution order (pure)."""
    flow = _Flow(cal, today)
    for spec in specs:
        rng = random.Random(f"{seed}:approvals:{spec.key}")
        if rng.random() < RESERVE_SHARE:
            continue  # a reserve project: registered and planned, not started
        by_stage = defaultdict(list)
        for item in plans[spec.key]:
            by_stage[item.stage].append(item)
        cursor = flow.wd(spec.registered, 5 + int(60 * spec.pace * rng.random()))
        for n, stage in enumerate(s for s in STAGES if by_stage[s]):
            if stage == "completion":
                cursor = flow.wd(cursor, rng.randint(*BUILDING_DAYS))  # building works
            if cursor > today:
                break
            if n == 0:
                flow.add(cursor, 8.5, spec.key, "status", status=ProjectStatus.PREPARATION.value)
            issued = _stage(flow, rng, spec, stage, by_stage[stage], cursor)
            if issued is None:
                break
            cursor = flow.wd(issued, rng.randint(3, 10 + int(40 * spec.pace)))
    steps = [s for s in flow.steps if s.day <= today]
    steps.sort(key=lambda s: (s.day, s.minute, s.project))
    return steps


# ------------------------------------------------------------------------------------------------ executor


@dataclass
class Registered:
    """A project written to the library."""

    spec: ProjectSpec
    id: int
    code: str
    name: str
    template: str
    unit: Person
    items: list[ItemShape]


@dataclass
class ApprovalReport:
    """What the approvals part wrote."""

    projects: int = 0
    items: int = 0
    steps: int = 0
    applications: int = 0
    pre_evaluations: int = 0


class _Cast:
    """The people of the approvals: units, department reviewers, window staff, the administrator who
    records outside bodies' opinions."""

    def __init__(self, ctx: HistoryContext) -> None:
        self.ctx = ctx
        self.rng = ctx.sub_rng("people")
        people = ctx.people
        for code, zh, en in UNITS:
            people.org(code, zh, en, OrgKind.PROJECT_UNIT)
        self.window = [
            people.person(f"demo-window-{n}", self._name(), Role.WINDOW, "service-center") for n in (1, 2, 3)
        ]
        self.admin = people.person("demo-sysadmin", "演示系统管理员", Role.SYSTEM_ADMIN, ADMIN_ORG)

    def _name(self) -> str:
        return self.rng.choice(WORKERS) + self.rng.choice(GIVEN)

    def unit(self, org: str) -> Person:
        return self.ctx.people.person(f"demo-unit-{org}", self._name(), Role.PROJECT_UNIT, org)

    def reviewer(self, dept: str) -> Person:
        return self.ctx.people.person(f"demo-reviewer-{dept}", self._name(), Role.REVIEWER, dept)

    def decider(self, department_id: int | None, dept: str) -> Person:
        return self.admin if department_id is None else self.reviewer(dept)

    def clerk(self, day: date) -> Person:
        return self.window[day.toordinal() % len(self.window)]


# Materials the unit holds once for all its projects (资料不重复提交).
ORG_WIDE = frozenset({"business_licence", "legal_rep_authorisation"})


class _Executor:
    def __init__(self, ctx: HistoryContext, store: BlobStore, data_dir: Path | None) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.store = store
        self.data_dir = data_dir
        self.cast = _Cast(ctx)
        self.check = CheckPlan(ctx.catalog, get_ruleset())
        self.known = set(ctx.catalog.layers)
        self.used: dict[str, set[int]] = defaultdict(set)
        self.library: dict[tuple[int, str, int | None], int] = {}  # (org, code, project) → material id
        self.apps: dict[tuple[int, str], int] = {}
        self.report = ApprovalReport()
        self.cal = load_calendar(ctx.conn)
        self.returned: dict[int, str] = {}
        self.pools: dict[str, list[Site]] = {}
        self.wanted: dict[str, int] = defaultdict(
            int
        )  # projects per kind  # application → the material its return asked for again

    # --- registration

    def _site(self, kind: Kind, day: date) -> tuple[Site, Any]:
        """The next candidate site whose pre-evaluation prohibits nothing (else the first one tried), with
        its report; candidates are read once per kind (a few per project of the kind)."""
        pool = self.pools.get(kind.key)
        if pool is None:
            wanted = 6 * self.wanted[kind.key] + 10
            pool = self.pools[kind.key] = candidates(
                self.conn,
                kind.site,
                scale=self.ctx.scale,
                seed=self.ctx.seed,
                land_uses=kind.land_uses,
                used=tuple(self.used[kind.site]),
                n=wanted,
            )
        first = None
        for _ in range(6):
            while pool and pool[0].fid in self.used[kind.site]:
                pool.pop(0)
            if not pool:
                break
            site = pool.pop(0)
            footprint = parse_footprint(site.geometry, "EPSG:4547")
            report = evaluate(
                self.conn, footprint, kind.check_type, plan=self.check, today=day, data_dir=self.data_dir
            )
            first = first or (site, report)
            if not any(str(f.grade) == "prohibited" for f in report.findings):
                return site, report
        if first is None:
            raise RuntimeError(f"demo history: no site left for {kind.key} on the base map")
        return first

    def register(self, spec: ProjectSpec) -> Registered:
        kind = kind_of(spec.kind)
        day = spec.registered
        with self.ctx.clock.on_day(at(day, 9, 30)):
            site, report = self._site(kind, day)
            self.used[kind.site].add(site.fid)
            unit_org = f"sd-{site.subdistrict}" if spec.unit == "sd" else spec.unit
            unit = self.cast.unit(unit_org)
            sd = SUBDISTRICT_ZH[site.subdistrict]
            if site.label:
                name = f"{site.label}（{sd.removesuffix('街道')}段）{kind.facility}{spec.action}"
                if kind.key == "road":
                    name = f"{site.label}{spec.action}"
            else:
                name = f"{sd}{spec.place}{kind.facility}{spec.action}"
            body = ProjectCreate(
                name=name,
                project_type=kind.template,
                unit_org_code=unit_org,
                owner_dept_code=kind.owner,
                investment_wan=spec.investment_wan,
                funding_source=spec.funding_source,
                planned_start=spec.planned_start,
                tier=Tier.RESERVE,
                plan_link=PlanLink(layer=site.layer, fid=site.fid, objective=f"实施{sd}{kind.facility}规划")
                if spec.top_down
                else None,
                demolition_progress_pct=spec.demolition_pct,
            )
            creator = self.cast.reviewer(kind.owner) if spec.top_down else unit
            project = projects.create_project(
                self.conn, creator.grant(Action.PROJECTS_MANAGE), body, known_layers=self.known, today=day
            )
            projects.add_footprint(
                self.conn,
                unit.grant(Action.PROJECTS_MANAGE),
                project.id,
                FootprintIn(footprint=site.geometry, crs="EPSG:4547", note="选址红线"),
            )
            footprint = parse_footprint(site.geometry, "EPSG:4547")
            grant = unit.grant(Action.PREEVAL_RUN)
            store_report_audited(
                self.conn, grant, project.code, grant.principal.org_id, footprint.geometry, report
            )
            self.report.pre_evaluations += 1
        with self.ctx.clock.on_day(at(self.cal.add_working_days(day, 1), 10, 0)):
            items = create_plan_with_pre_evaluation(self.conn, unit.grant(Action.PROJECTS_MANAGE), project.id)
        shapes = [
            ItemShape(i.id, i.item_code, i.stage, i.promised_days) for i in items if i.status != "merged"
        ]
        self.report.projects += 1
        self.report.items += len(shapes)
        return Registered(spec, project.id, project.code, name, kind.template, unit, shapes)

    # --- steps

    def _material(self, reg: Registered, code: str, *, fresh: bool = False) -> int:
        org = reg.unit.org_id
        project = None if code in ORG_WIDE else reg.id
        key = (org, code, project)
        if fresh or key not in self.library:
            title = f"{reg.code} {code}" if project else f"{reg.unit.org_code} {code}"
            m = materials.store_generated(
                self.conn,
                reg.unit.grant(Action.APPLICATIONS_SUBMIT).actor,
                org,
                project,
                "application",
                code,
                f"{code}.pdf",
                small_pdf([title]),
                "application/pdf",
                store=self.store,
            )
            self.library[key] = m.id
        return self.library[key]

    def _app(self, reg: Registered, stage: str) -> int:
        return self.apps[(reg.id, stage)]

    def _version(self, app_id: int) -> tuple[int, bool]:
        row = self.conn.execute(
            "SELECT version FROM approval.application WHERE id = %s", (app_id,)
        ).fetchone()
        assert row is not None
        return int(row[0]), False

    def _project_update(self, reg: Registered, update: dict[str, Any]) -> None:
        current = projects.fetch_project(self.conn, reg.id)
        projects.update_project(
            self.conn,
            reg.unit.grant(Action.PROJECTS_MANAGE),
            reg.id,
            ProjectUpdate(**update),
            current.version,
            False,
            self.known,
        )

    def run(self, step: Step, reg: Registered, gaps: dict[tuple[int, str], str]) -> None:
        conn, day, stage = self.conn, step.day, step.stage
        unit = reg.unit.grant(Action.APPLICATIONS_SUBMIT)
        clerk = self.cast.clerk(day).grant(Action.APPLICATIONS_INTAKE)
        if step.kind == "status":
            status = ProjectStatus(str(step.status))
            tier = {
                ProjectStatus.PREPARATION: Tier.PREPARATION,
                ProjectStatus.CONSTRUCTION: Tier.IMPLEMENTATION,
            }.get(status)
            self._project_update(reg, {"status": status, **({"tier": tier} if tier else {})})
        elif step.kind == "demolition":
            self._project_update(reg, {"demolition_progress_pct": Decimal(100)})
        elif step.kind == "open":
            app = applications.open_application(
                conn,
                unit,
                ApplicationCreate(
                    project_id=reg.id,
                    stage=stage,  # type: ignore[arg-type]
                    contact_name=reg.unit.username,
                ),
                day,
            )
            self.apps[(reg.id, stage)] = app.id
            self.report.applications += 1
        elif step.kind in ("attach", "reattach"):
            app_id = self._app(reg, stage)
            # The checklist as the application view builds it (without the whole view: the attach calls
            # below return it anyway).
            checklist = applications.app_checklist(
                applications.load_row(conn, None, app_id), applications.app_items(conn, app_id)
            )
            gap = gaps.get((reg.id, stage))
            codes = [e.code for e in checklist if e.code != gap]
            if step.kind == "reattach":  # the points of the return: the first project document, renewed
                codes = [self._returned_code(app_id)]
            for code in codes:
                applications.attach(
                    conn,
                    unit,
                    app_id,
                    code,
                    self._material(reg, code, fresh=step.kind == "reattach"),
                    None,
                    day,
                )
        elif step.kind == "submit":
            app_id = self._app(reg, stage)
            applications.submit(conn, unit, app_id, self._version(app_id), None, day)
        elif step.kind == "return":
            app_id = self._app(reg, stage)
            code = self._project_document(reg, app_id, day)
            body = ReturnBody(
                points=[Point(material_code=code, text="材料内容与项目不一致，请核对后重新提交。")]
            )
            intake.return_package(conn, clerk, app_id, body, self._version(app_id), day)
        elif step.kind == "accept":
            app_id = self._app(reg, stage)
            gap_list = [Gap(material_code=step.gap, supplement_due=step.due)] if step.gap and step.due else []
            intake.accept(conn, clerk, app_id, AcceptBody(gaps=gap_list), self._version(app_id), day)
        elif step.kind == "supplement":
            app_id = self._app(reg, stage)
            code = gaps[(reg.id, stage)]
            applications.attach(conn, unit, app_id, code, self._material(reg, code), None, day)
        elif step.kind == "request":
            item = fetch_items(conn, "i.id = %(id)s", {"id": step.item})[0]
            who = self.cast.decider(item.department_id, item.department_code)
            review.request_correction(
                conn,
                who.grant(Action.APPLICATIONS_REVIEW),
                item.id,
                CorrectionRequestBody(points=[Point(text=f"请补充{item.name_zh}所需的专项说明材料。")]),
            )
        elif step.kind == "letter":
            app_id = self._app(reg, stage)
            review.send_letter(conn, clerk, app_id, LetterBody(), self._version(app_id), day)
        elif step.kind == "resubmit":
            app_id = self._app(reg, stage)
            review.resubmit(conn, unit, app_id, self._version(app_id), "已按补正告知书补正。", day)
        elif step.kind == "opinion":
            item = fetch_items(conn, "i.id = %(id)s", {"id": step.item})[0]
            who = self.cast.decider(item.department_id, item.department_code)
            conditional = step.decision == "approve_conditional"
            opinion = OpinionBody(
                decision="approve_conditional" if conditional else "approve",
                conditions="开工前须落实相关部门提出的意见。" if conditional else None,
            )
            review.opinion(conn, who.grant(Action.APPLICATIONS_REVIEW), item.id, opinion, None, day)
        elif step.kind == "issue":
            app_id = self._app(reg, stage)
            intake.issue(conn, clerk, app_id, self._version(app_id), None, day)
        else:  # pragma: no cover - the scenario makes only the kinds above
            raise AssertionError(step.kind)

    def _project_document(self, reg: Registered, app_id: int, day: date) -> str:
        row = applications.load_row(self.conn, None, app_id)
        items = applications.app_items(self.conn, app_id)
        # The first required project document (never a conditional one the window may take as a gap).
        codes = [
            m.code for m in applications.app_checklist(row, items) if m.required and m.code not in ORG_WIDE
        ]
        self.returned[app_id] = codes[0]
        return codes[0]

    def _returned_code(self, app_id: int) -> str:
        return self.returned[app_id]


def generate(
    ctx: HistoryContext,
    *,
    store: BlobStore,
    data_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> ApprovalReport:
    """Register the projects and run their approvals up to ``ctx.today``."""
    ex = _Executor(ctx, store, data_dir)
    cal = ex.cal
    specs = plan_projects(ctx.seed, ctx.scale, cal, ctx.start, ctx.today)
    for spec in specs:
        ex.wanted[spec.kind] += 1
    registered: dict[int, Registered] = {}
    for n, spec in enumerate(specs, 1):
        registered[spec.key] = ex.register(spec)
        if n % 50 == 0:
            progress(f"  projects: {n}/{len(specs)} registered, pre-evaluated and planned")
    plans = {key: reg.items for key, reg in registered.items()}
    steps = schedule(ctx.seed, specs, plans, cal, ctx.today)
    gaps = {(registered[s.project].id, s.stage): s.gap for s in steps if s.kind == "accept" and s.gap}
    progress(f"  approvals: {len(steps):,} steps over {len({s.day for s in steps})} working days")
    by_day: dict[date, list[Step]] = defaultdict(list)
    for s in steps:
        by_day[s.day].append(s)
    for n, day in enumerate(sorted(by_day), 1):
        todays = sorted(by_day[day], key=lambda s: s.minute)
        # A day is stamped in two blocks (morning, afternoon), each at its last step's minute: the records
        # keep their order (by time, then by id) and a day costs two backdating passes, not one per step.
        blocks = [[s for s in todays if s.minute < NOON], [s for s in todays if s.minute >= NOON]]
        blocks = [b for b in blocks if b]
        last = blocks[-1][-1].minute
        with ctx.clock.on_day(at(day, last // 60, last % 60)):
            for block in blocks:
                for s in block:
                    ex.run(s, registered[s.project], gaps)
                if block is not blocks[-1]:
                    ctx.clock.backdate(at(day, block[-1].minute // 60, block[-1].minute % 60))
        if n % 100 == 0:
            progress(f"  approvals: day {n}/{len(by_day)} ({day})")
    ex.report.steps = len(steps)
    return ex.report
