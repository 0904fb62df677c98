"""The demo history's demolition ledgers (征拆台账): projects over real buildings, at every stage.

Each ledger is a project registered by its unit with a footprint over buildings of the base map
(``cur_building``), pre-evaluated like ``POST /api/pre-evaluations``, and its units created from that
report like ``POST .../units/from-pre-evaluation``. Then, day by day on the clock, the coordinators survey
and record the households, the valuers value, agreements are signed (a PDF in the materials store),
compensation is paid, buildings are vacated, demolished and handed over in batches; blockers are raised on
the way, worked by the departments, escalated or resolved.

The stages (``STAGES``): one ledger just created, some mid-way, one almost complete (a holdout and its
escalated dispute), one complete. What happens and when is a pure plan (:func:`plan_ledgers`,
:func:`plan_units`, :func:`plan_blockers`: the seed, the scale, the day and the ledger's size decide it);
:func:`generate` finds the sites on the base map and carries the plan out through the services.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
from psycopg import Connection

from analysis.checkplan import get_check_plan
from analysis.engine import evaluate
from analysis.footprint import parse_footprint
from app.auth.policy import Action, Role
from app.demo.actors import Person
from app.demo.clock import at
from app.demo.context import HistoryContext, Scale
from app.demo.demands import COMMUNITIES, calendar_days, working_on_or_after, working_on_or_before
from app.demo.pdf import small_pdf
from app.demolition import blockers, creation, ledger
from app.demolition.blockers import BlockerAction, BlockerActionIn, BlockerCategory, BlockerCreate
from app.demolition.models import Attachment, OwnerType, TransitionIn, UnitStatus, UnitUpdate
from app.materials.service import store_generated
from app.materials.storage import BlobStore
from app.preevaluation.store import store_report_audited
from app.projects import service
from app.projects.models import FootprintIn, ProjectCreate, ProjectStatus, ProjectUpdate, Tier
from app.settings import Settings
from layers.demo.core import scale_bounds
from layers.district import DISTRICT, STORAGE_SRID

PIPELINE = list(UnitStatus)
# Days a step takes before scaling to the ledger's time (entering valued, signed, paid, vacated, …).
STEP_DAYS: dict[UnitStatus, tuple[int, int]] = {
    UnitStatus.VALUED: (10, 45),
    UnitStatus.SIGNED: (15, 90),
    UnitStatus.PAID: (7, 30),
    UnitStatus.VACATED: (10, 40),
    UnitStatus.DEMOLISHED: (5, 30),
    UnitStatus.HANDED_OVER: (5, 25),
}


@dataclass(frozen=True)
class Stage:
    """Where a ledger stands today."""

    key: str
    name_zh: str
    age_days: tuple[int, int]  # ledger created this many days before today
    shares: dict[UnitStatus, int]  # how its units stand today (weights)
    units: tuple[int, int]  # how many buildings the site holds (district scale)
    finished_days_ago: int | None = None  # complete: the last hand-over this long ago
    pace: tuple[float, float] = (0.35, 1.0)  # a unit's last step at this share of the ledger's time


S = UnitStatus
STAGES: dict[str, Stage] = {
    "new": Stage("new", "刚建账", (8, 20), {S.SURVEYED: 9, S.VALUED: 1}, (10, 24), pace=(0.5, 1.0)),
    "early": Stage("early", "评估签约中", (130, 170), {S.SURVEYED: 3, S.VALUED: 5, S.SIGNED: 2}, (14, 30)),
    "midway": Stage(
        "midway",
        "过半",
        (280, 330),
        {S.VALUED: 1, S.SIGNED: 2, S.PAID: 2, S.VACATED: 2, S.DEMOLISHED: 1, S.HANDED_OVER: 2},
        (16, 32),
    ),
    "late": Stage(
        "late",
        "拆除移交中",
        (420, 480),
        {S.SIGNED: 1, S.PAID: 1, S.VACATED: 2, S.DEMOLISHED: 2, S.HANDED_OVER: 4},
        (14, 30),
    ),
    "almost": Stage(
        "almost", "基本完成", (600, 680), {S.VALUED: 1, S.HANDED_OVER: 12}, (12, 26), pace=(0.3, 0.95)
    ),
    "complete": Stage(
        "complete", "已完成", (900, 960), {S.HANDED_OVER: 1}, (10, 22), finished_days_ago=480, pace=(0.4, 1.0)
    ),
}
LEDGER_STAGES: dict[Scale, tuple[str, ...]] = {
    "small": ("new", "midway", "almost", "complete"),
    "district": ("new", "early", "midway", "late", "midway", "almost", "complete"),
    "full": ("new", "early", "midway", "late", "midway", "almost", "complete"),
}
SMALL_UNITS = (4, 10)


@dataclass(frozen=True)
class Kind:
    """A kind of project that clears buildings: its template, pre-evaluation type, shape and parties."""

    project_type: str
    preeval_type: str
    name: str  # {a}: the place
    owner_dept: str
    size_m: tuple[int, int]  # width, height of the footprint
    investment_wan: tuple[int, int]


KINDS: tuple[Kind, ...] = (
    Kind("municipal_road", "road", "{a}片区市政道路新建工程", "transport", (26, 320), (8000, 26000)),
    Kind("house_building", "school", "{a}九年一贯制学校新建工程", "education", (150, 120), (30000, 60000)),
    Kind("house_building", "housing", "{a}保障性住房建设项目", "housing", (140, 140), (40000, 90000)),
    Kind("park_greening", "park", "{a}社区公园建设工程", "forestry", (170, 120), (2000, 6000)),
    Kind("water_works", "water_works", "{a}河道综合整治工程", "water", (30, 300), (6000, 18000)),
    Kind("municipal_road", "road", "{a}道路拓宽改造工程", "transport", (320, 30), (6000, 20000)),
)
UNIT_ORG = "works"


@dataclass(frozen=True)
class LedgerPlan:
    """One ledger: its kind, stage and days."""

    index: int
    stage: str
    kind: int  # index into KINDS
    registered: date  # project registered, footprint drawn
    checked: date  # pre-evaluated
    created: date  # ledger built from the report
    last: date  # the last day anything happens to its units
    investment_wan: int
    price_per_m2: int  # valuation, yuan per m² of floor area
    seed: str  # the ledger's own stream (units, blockers)


@dataclass(frozen=True)
class UnitStep:
    """A unit entering a status on a day (or, when ``to`` is None, its survey record)."""

    unit: int  # index in unit-code order
    day: date
    to: UnitStatus | None
    reason: str | None = None  # a step back or a skip
    batch: int | None = None  # hand-over batch number


@dataclass(frozen=True)
class BlockerStep:
    """Something done to a blocker on a day."""

    blocker: int
    day: date
    action: str  # raise | comment | escalate | resolve
    category: BlockerCategory
    unit: int | None
    department: str  # organisation code, or "subdistrict": the unit's sub-district
    deadline: date | None
    text: str
    title: str = ""
    by_department: bool = False  # the assigned department acts (else a coordinator)


# --- the plan ---------------------------------------------------------------------------------------------


def plan_ledgers(
    seed: int, scale: Scale, today: date, start: date, is_working: Callable[[date], bool]
) -> list[LedgerPlan]:
    """The ledgers of the history: stage, kind and days of each (pure: no database)."""
    rng = random.Random(f"{seed}:ledgers")
    last_day = working_on_or_before(today - timedelta(days=1), is_working)
    kinds = list(range(len(KINDS)))
    rng.shuffle(kinds)
    plans = []
    for i, key in enumerate(LEDGER_STAGES[scale]):
        stage = STAGES[key]
        created = working_on_or_before(today - timedelta(days=rng.randint(*stage.age_days)), is_working)
        registered = max(start, created - timedelta(days=rng.randint(50, 100)))
        registered = working_on_or_after(registered, is_working)
        created = max(created, registered + timedelta(days=30))
        created = working_on_or_after(created, is_working)
        checked = working_on_or_after(registered + timedelta(days=rng.randint(5, 20)), is_working)
        last = last_day
        if stage.finished_days_ago is not None:
            last = working_on_or_before(today - timedelta(days=stage.finished_days_ago), is_working)
        kind = kinds[i % len(kinds)]
        low, high = KINDS[kind].investment_wan
        plans.append(
            LedgerPlan(
                index=i,
                stage=key,
                kind=kind,
                registered=registered,
                checked=checked,
                created=created,
                last=max(last, created),
                investment_wan=rng.randrange(low, high, 100),
                price_per_m2=rng.randrange(18000, 32000, 500),
                seed=f"{seed}:ledger:{i}",
            )
        )
    return plans


def targets(plan: LedgerPlan, n_units: int) -> list[UnitStatus]:
    """How each unit (in unit-code order) stands at the end: the stage's shares, largest remainder first,
    spread over the units by the ledger's stream."""
    shares = STAGES[plan.stage].shares
    total = sum(shares.values())
    exact = {s: n_units * w / total for s, w in shares.items()}
    counts = {s: int(v) for s, v in exact.items()}
    for s in sorted(exact, key=lambda s: (counts[s] - exact[s], PIPELINE.index(s)))[
        : n_units - sum(counts.values())
    ]:
        counts[s] += 1
    out = [s for s in PIPELINE for _ in range(counts.get(s, 0))]
    random.Random(plan.seed + ":targets").shuffle(out)
    return out


def plan_units(plan: LedgerPlan, n_units: int, is_working: Callable[[date], bool]) -> list[UnitStep]:
    """Every unit's survey record and moves along the pipeline, dated between the ledger's creation and its
    last day; hand-overs happen in batches; one unit of a mid-way ledger goes back a step (with a reason)."""
    rng = random.Random(plan.seed + ":units")
    stage = STAGES[plan.stage]
    goals = targets(plan, n_units)
    window = max(1, (plan.last - plan.created).days)
    steps: list[UnitStep] = []
    back_unit = next((i for i, g in enumerate(goals) if PIPELINE.index(g) >= 3), None)
    if plan.stage not in ("midway", "late"):
        back_unit = None
    demolished: dict[int, date] = {}
    # A ledger under way (not yet almost done) has some units demolished in its last weeks.
    down = [i for i, g in enumerate(goals) if g is UnitStatus.DEMOLISHED]
    recent = set(rng.sample(down, min(3, len(down)))) if plan.stage in ("midway", "late") else set()
    for unit, goal in enumerate(goals):
        # The survey record is entered in the days after the ledger is built.
        survey = min(
            plan.last, working_on_or_after(plan.created + timedelta(days=rng.randint(0, 6)), is_working)
        )
        steps.append(UnitStep(unit, survey, None))
        path: list[tuple[UnitStatus, str | None]] = [
            (s, None) for s in PIPELINE[1 : PIPELINE.index(goal) + 1]
        ]
        if unit == back_unit:
            at_signed = path.index((UnitStatus.SIGNED, None)) + 1
            path[at_signed:at_signed] = [(UnitStatus.VALUED, BACK_REASON), (UnitStatus.SIGNED, None)]
        if not path:
            continue
        gaps = [rng.randint(*STEP_DAYS.get(s, (10, 30))) for s, _ in path]
        # The unit's last step falls at a share of the ledger's time: units further along took longer.
        low, high = stage.pace
        reach = low + (high - low) * (0.5 * rng.random() + 0.5 * PIPELINE.index(goal) / (len(PIPELINE) - 1))
        if (
            unit in recent
        ):  # demolished in the last weeks: the ledger is still moving (its forecast has a pace)
            reach = 1 - rng.randint(1, min(25, window)) / window
        span = max(len(path), int((survey - plan.created).days + window * min(1.0, reach)))
        factor = span / sum(gaps)
        day, elapsed = survey, 0.0
        for (status, reason), gap in zip(path, gaps, strict=True):
            elapsed += gap * factor
            when = plan.created + timedelta(days=max(1, round(elapsed)))
            when = max(day, min(plan.last, working_on_or_after(when, is_working)))
            when = working_on_or_before(when, is_working) if when > plan.last else when
            day = when
            if status is UnitStatus.DEMOLISHED:
                demolished[unit] = when
            steps.append(UnitStep(unit, when, status, reason))
    return _batched(plan, steps, demolished, is_working)


BACK_REASON = "评估报告复核发现建筑面积测量有误，原协议作废，退回重新评估。"


def _batched(
    plan: LedgerPlan, steps: list[UnitStep], demolished: dict[int, date], is_working: Callable[[date], bool]
) -> list[UnitStep]:
    """Hand-overs moved to batch days (every four weeks from the first demolition): each unit on the first
    batch day at least two days after its demolition, or on the ledger's last day when none is left."""
    if not demolished:
        return steps
    first = min(demolished.values())
    batches: list[date] = []
    day = first + timedelta(days=28)
    while day <= plan.last:
        batches.append(working_on_or_after(day, is_working))
        day += timedelta(days=28)
    out = []
    for step in steps:
        if step.to is UnitStatus.HANDED_OVER:
            ready = demolished[step.unit] + timedelta(days=2)
            number = next((n for n, b in enumerate(batches) if b >= ready and b <= plan.last), None)
            if number is None:  # no batch day left: on its own, by the ledger's last day
                when = max(step.day, min(plan.last, working_on_or_after(ready, is_working)))
                batch = len(batches)
            else:
                when, batch = batches[number], number
            step = UnitStep(step.unit, when, step.to, step.reason, batch + 1)
        out.append(step)
    return out


# Blockers per stage: (category, department, on a unit?, age in days when raised (before today or after
# creation), what becomes of it).
BLOCKER_TEXT: dict[BlockerCategory, dict[str, str]] = {
    BlockerCategory.DISPUTE: {
        "title": "权利人对评估价格有异议，拒绝签约",
        "description": "权利人认为评估单价低于周边同类房屋，要求重新评估并提高补偿标准，多次协商未果。",
        "comment": "街道已组织两次协商，权利人仍坚持原诉求，建议启动复核评估程序。",
        "escalate": "协商期限届满仍未达成一致，提请区土地整备局协调，必要时依法作出补偿决定。",
        "resolve": "经复核评估并调整装修补偿，权利人同意签约，问题办结。",
    },
    BlockerCategory.UNREACHABLE_OWNER: {
        "title": "权利人长期在外，无法联系",
        "description": "多次上门及电话联系未果，邻居反映权利人常年在外地务工，需通过社区和户籍信息查找。",
        "comment": "已在社区张贴公告，并请派出所协助核查联系方式。",
        "escalate": "公告期满仍无法联系，提请依法办理提存或公证送达。",
        "resolve": "已联系到权利人并完成入户调查，约定签约时间。",
    },
    BlockerCategory.TITLE: {
        "title": "房屋产权资料不全，需补办确权",
        "description": "该房屋为历史遗留违法建筑，无不动产权证，需核查建设年代及权属后确定补偿方式。",
        "comment": "已调取历年航拍影像，正在核对建设年代。",
        "escalate": "权属争议涉及多名继承人，提请法律顾问出具意见。",
        "resolve": "完成权属核查，按历史遗留建筑处理规定确定补偿，问题办结。",
    },
    BlockerCategory.GRAVE: {
        "title": "项目范围内有散葬坟墓需迁移",
        "description": "红线范围内发现散葬坟墓 3 座，需公告认领并协调迁葬。",
        "comment": "迁坟公告已张贴，公告期 30 天。",
        "escalate": "公告期满仍有 1 座无人认领，提请按无主坟墓规定处理。",
        "resolve": "坟墓已全部迁移完毕，场地可交付。",
    },
    BlockerCategory.UTILITY: {
        "title": "供水管线及电力杆线需先行迁改",
        "description": "拆除范围内有 DN300 供水管和 10kV 架空线，须完成迁改后方可拆除建筑。",
        "comment": "迁改方案已报管线单位审查，预计两周内批复。",
        "escalate": "管线单位迁改排期滞后，影响拆除进度，提请区级协调。",
        "resolve": "管线迁改完成并通过验收，拆除可以进行。",
    },
    BlockerCategory.OTHER: {
        "title": "临时安置房源不足",
        "description": "部分签约户要求就近临时安置，现有周转房源不能满足，影响腾空进度。",
        "comment": "已与住建部门对接，拟调配人才住房作为周转房。",
        "escalate": "周转房源仍未落实，提请区住房和建设局统筹。",
        "resolve": "住建部门已调配周转房 20 套，签约户陆续搬迁。",
    },
}
DEPARTMENT_OF: dict[BlockerCategory, str] = {
    BlockerCategory.DISPUTE: "subdistrict",
    BlockerCategory.UNREACHABLE_OWNER: "subdistrict",
    BlockerCategory.TITLE: "pnr",
    BlockerCategory.GRAVE: "subdistrict",
    BlockerCategory.UTILITY: "water",
    BlockerCategory.OTHER: "housing",
}
# Per stage: (category, on a unit, fate) — fate: open (deadline ahead), overdue (open, deadline passed),
# escalated, escalated2 (twice), resolved.
BLOCKERS: dict[str, tuple[tuple[BlockerCategory, bool, str], ...]] = {
    "new": ((BlockerCategory.UNREACHABLE_OWNER, True, "open"),),
    "early": ((BlockerCategory.TITLE, True, "open"), (BlockerCategory.UTILITY, False, "resolved")),
    "midway": (
        (BlockerCategory.DISPUTE, True, "escalated"),
        (BlockerCategory.GRAVE, False, "overdue"),
        (BlockerCategory.UTILITY, False, "resolved"),
    ),
    "late": ((BlockerCategory.OTHER, False, "open"), (BlockerCategory.DISPUTE, True, "resolved")),
    "almost": (
        (BlockerCategory.DISPUTE, True, "escalated2"),
        (BlockerCategory.TITLE, True, "resolved"),
        (BlockerCategory.UTILITY, False, "resolved"),
    ),
    "complete": ((BlockerCategory.TITLE, True, "resolved"), (BlockerCategory.UTILITY, False, "resolved")),
}


def plan_blockers(
    plan: LedgerPlan, n_units: int, today: date, is_working: Callable[[date], bool]
) -> list[BlockerStep]:
    """The ledger's blockers and what is done to them, between its creation and its last day (a dispute
    is raised on a unit that is still short of signing; the holdout of an almost complete ledger)."""
    rng = random.Random(plan.seed + ":blockers")
    goals = targets(plan, n_units)
    window = max(2, (plan.last - plan.created).days)
    behind = [i for i, g in enumerate(goals) if PIPELINE.index(g) <= PIPELINE.index(UnitStatus.VALUED)]
    steps: list[BlockerStep] = []
    for b, (category, on_unit, fate) in enumerate(BLOCKERS[plan.stage]):
        text = BLOCKER_TEXT[category]
        unit = None
        if on_unit and n_units:
            unit = rng.choice(behind) if behind and fate != "resolved" else rng.randrange(n_units)
        department = DEPARTMENT_OF[category]
        if fate in ("open", "overdue", "escalated", "escalated2"):
            # Raised late enough to be still open: within the last third of the ledger's time.
            raised = plan.created + timedelta(days=int(window * rng.uniform(0.4, 0.7)))
        else:
            raised = plan.created + timedelta(days=int(window * rng.uniform(0.05, 0.4)))
        if fate == "overdue":  # raised long enough ago to be past its deadline now
            raised = min(raised, today - timedelta(days=rng.randint(45, 75)))
        raised = min(plan.last, working_on_or_after(max(raised, plan.created), is_working))
        deadline = raised + timedelta(days=20 if fate == "overdue" else 30)
        if fate == "open":
            deadline = max(deadline, today + timedelta(days=rng.randint(10, 40)))
        raised_step = BlockerStep(
            blocker=b,
            day=raised,
            action="raise",
            category=category,
            unit=unit,
            department=department,
            deadline=deadline,
            text=text["description"],
            title=text["title"],
        )
        steps.append(raised_step)
        later = _between(raised, plan.last, 0.3, rng, is_working)
        steps.append(
            replace(
                raised_step,
                day=later,
                action="comment",
                deadline=None,
                text=text["comment"],
                by_department=True,
            )
        )
        if fate.startswith("escalated"):
            first = _between(later, plan.last, 0.4, rng, is_working)
            due = max(first + timedelta(days=30), today + timedelta(days=rng.randint(5, 30)))
            escalated = replace(
                raised_step,
                day=first,
                action="escalate",
                deadline=due,
                text=text["escalate"],
                department="land-prep",
            )
            steps.append(escalated)
            if fate == "escalated2":
                second = _between(first, plan.last, 0.5, rng, is_working)
                steps.append(
                    replace(
                        escalated,
                        day=second,
                        deadline=today + timedelta(days=rng.randint(15, 45)),
                        text="经区土地整备局协调仍未达成一致，提请区政府专题会议研究，拟依法作出补偿决定。",
                    )
                )
        elif fate == "resolved":
            done = _between(later, plan.last, 0.5, rng, is_working)
            steps.append(
                replace(
                    raised_step,
                    day=done,
                    action="resolve",
                    deadline=None,
                    text=text["resolve"],
                    by_department=department != "subdistrict",
                )
            )
    return steps


def _between(
    after: date, last: date, share: float, rng: random.Random, is_working: Callable[[date], bool]
) -> date:
    """A working day after ``after`` (by about ``share`` of the time left), never after ``last``."""
    room = max(0, (last - after).days)
    day = after + timedelta(days=min(room, max(1, int(room * share * rng.uniform(0.5, 1.0)))))
    day = working_on_or_after(day, is_working)
    return day if day <= last else max(after, working_on_or_before(last, is_working))


# --- the sites ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A footprint over buildings of the base map."""

    geometry: shapely.Geometry  # storage CRS
    place: str  # the urban village, or the sub-district
    subdistrict: str | None  # organisation code
    buildings: int


def find_sites(conn: Connection[Any], scale: Scale, plans: list[LedgerPlan], salt: str) -> list[Site]:
    """A footprint per ledger around low-rise buildings (an urban village's, mostly) inside the scale's
    window, meeting no other project's footprint nor another site, holding a number of buildings that
    suits the stage."""
    x0, y0, x1, y1 = scale_bounds(scale)
    margin = 250.0
    candidates = conn.execute(
        """
        SELECT ST_X(c), ST_Y(c) FROM (
          SELECT b.fid, ST_Centroid(b.geom) AS c FROM basemap.layer l
            JOIN basemap.feature b ON b.version_id = l.current_version
           WHERE l.code = 'cur_building' AND b.geom && ST_MakeEnvelope(%s, %s, %s, %s, %s)
             AND coalesce((b.props ->> 'floors')::int, 99) <= 8
           ORDER BY md5(b.fid::text || %s) LIMIT 600) q
        """,
        (x0 + margin, y0 + margin, x1 - margin, y1 - margin, STORAGE_SRID, salt),
    ).fetchall()
    taken: list[shapely.Geometry] = []
    sites: list[Site] = []
    for plan in plans:
        kind = KINDS[plan.kind]
        low, high = STAGES[plan.stage].units if scale != "small" else SMALL_UNITS
        site = None
        for attempt in range(2):
            for cx, cy in candidates:
                w, h = kind.size_m
                box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if any(box.distance(t) < 150 for t in taken):
                    continue
                found = _site(conn, box, low, high if attempt == 0 else high * 3)
                if found is not None:
                    site = found
                    break
            if site is not None:
                break
        if site is None:
            raise RuntimeError(
                f"no site for demolition ledger {plan.index} ({plan.stage}) in the {scale} window"
            )
        taken.append(site.geometry)
        sites.append(site)
    return sites


def _site(conn: Connection[Any], box: shapely.Geometry, low: int, high: int) -> Site | None:
    params = {"wkb": shapely.to_wkb(box), "srid": STORAGE_SRID}
    row = conn.execute(
        """
        WITH fp AS (SELECT ST_GeomFromWKB(%(wkb)s, %(srid)s) AS g)
        SELECT count(*) FILTER (WHERE ST_Area(ST_Intersection(b.geom, fp.g)) > 1),
               max(coalesce((b.props ->> 'floors')::int, 0)),
               EXISTS (SELECT 1 FROM project.footprint f, fp WHERE f.superseded_at IS NULL
                        AND ST_DWithin(f.geom, fp.g, 50))
        FROM basemap.layer l JOIN basemap.feature b ON b.version_id = l.current_version, fp
        WHERE l.code = 'cur_building' AND ST_Intersects(b.geom, fp.g)
        """,
        params,
    ).fetchone()
    assert row is not None
    count, floors, crowded = row
    if crowded or not (low <= int(count) <= high) or (floors or 0) > 12:
        return None
    names = conn.execute(
        """
        WITH fp AS (SELECT ST_GeomFromWKB(%(wkb)s, %(srid)s) AS g)
        SELECT
          (SELECT v.props ->> 'name' FROM basemap.layer l
             JOIN basemap.feature v ON v.version_id = l.current_version, fp
            WHERE l.code = 'cur_urban_village' AND ST_Intersects(v.geom, fp.g)
            ORDER BY ST_Area(ST_Intersection(v.geom, fp.g)) DESC LIMIT 1),
          (SELECT o.code FROM basemap.layer l JOIN basemap.feature s ON s.version_id = l.current_version, fp,
             auth.organisation o
            WHERE l.code = 'admin_subdistrict' AND ST_Intersects(s.geom, ST_Centroid(fp.g))
              AND o.code = 'sd-' || (s.props ->> 'subdistrict') LIMIT 1)
        """,
        params,
    ).fetchone()
    village, subdistrict = names if names else (None, None)
    short = COMMUNITIES[subdistrict][0] if subdistrict in COMMUNITIES else "龙岗"
    place = f"{short}街道{village}" if village else f"{short}街道"
    return Site(box, place, subdistrict, int(count))


# --- documents ------------------------------------------------------------------------------------------


# --- carrying the plan out ------------------------------------------------------------------------------

SURNAMES = "陈李张黄刘林王吴郑何罗杨谢钟叶赖邓曾彭廖"
GIVEN = (
    "志强",
    "伟明",
    "建华",
    "秀英",
    "国平",
    "丽娟",
    "永红",
    "海波",
    "少华",
    "桂芳",
    "锦辉",
    "惠珍",
    "德胜",
    "雪梅",
)
NOTES: dict[UnitStatus, str] = {
    UnitStatus.VALUED: "评估机构完成入户评估，出具分户评估报告。",
    UnitStatus.SIGNED: "签订《房屋征收补偿协议》。",
    UnitStatus.PAID: "补偿款已拨付至权利人账户。",
    UnitStatus.VACATED: "权利人已搬离，房屋腾空并交付钥匙。",
    UnitStatus.DEMOLISHED: "房屋已拆除，建筑垃圾清运完毕。",
    UnitStatus.HANDED_OVER: "场地平整完成，移交建设单位。",
}


@dataclass
class _Ledger:
    """A ledger being written: its plan, site, project, units and blockers as they come to be."""

    plan: LedgerPlan
    site: Site
    project_id: int = 0
    project_code: str = ""
    report_id: int = 0
    unit_ids: list[int] = field(default_factory=list)
    blocker_ids: dict[int, int] = field(default_factory=dict)
    agreed: dict[int, Decimal] = field(default_factory=dict)


@dataclass
class _Cast:
    """Who does what."""

    unit: Person  # the project unit (registers, draws, checks)
    coordinator: Person  # 土地整备局 (builds the ledger, raises blockers)
    by_code: dict[str, Person] = field(default_factory=dict)  # department or sub-district → its person


def generate(ctx: HistoryContext, *, data_dir: Path | None = None, store: BlobStore | None = None) -> int:
    """Write the demolition ledgers through the services; returns the number of ledgers.

    ``data_dir`` holds the raster layers the pre-evaluation reads, ``store`` the materials store (both
    default to the environment's settings, as the command line has them)."""
    conn = ctx.conn
    with ctx.clock.on_day(at(ctx.start, 9)):
        is_working = calendar_days(conn)
        plans = plan_ledgers(ctx.seed, ctx.scale, ctx.today, ctx.start, is_working)
        sites = find_sites(conn, ctx.scale, plans, f"{ctx.seed}:sites")
        cast = _Cast(
            ctx.people.person("demo-ledger-works", "区建筑工务署前期部", Role.PROJECT_UNIT, UNIT_ORG),
            ctx.people.person("demo-ledger-landprep", "区土地整备局征拆科", Role.COORDINATOR, "land-prep"),
        )
    data_dir = data_dir or Settings().data_dir
    ledgers = [_Ledger(p, s) for p, s in zip(plans, sites, strict=True)]
    agenda: list[tuple[date, int, int, str, Any]] = []  # (day, order, sequence, what, payload)
    sequence = 0

    def add(day: date, order: int, what: str, payload: Any) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(agenda, (day, order, sequence, what, payload))

    for lg in ledgers:
        add(lg.plan.registered, 0, "register", lg)
        add(lg.plan.checked, 1, "check", lg)
        add(lg.plan.created, 2, "build", lg)
    rng = ctx.sub_rng("ledgers:hours")
    while agenda:
        day = agenda[0][0]
        with ctx.clock.on_day(at(day, 9 + rng.randrange(0, 8), rng.choice((0, 10, 20, 30, 40, 50)))):
            while agenda and agenda[0][0] == day:
                _, _, _, what, payload = heapq.heappop(agenda)
                if what == "register":
                    _register(ctx, cast, payload, day)
                elif what == "check":
                    _check(ctx, cast, payload, day, data_dir)
                elif what == "build":
                    for step_day, order, kind, item in _build(ctx, cast, payload, is_working):
                        add(step_day, order, kind, (payload, item))
                elif what == "unit":
                    _unit_step(ctx, cast, payload[0], payload[1], day, store)
                else:
                    _blocker_step(ctx, cast, payload[0], payload[1])
    return len(ledgers)


def _register(ctx: HistoryContext, cast: _Cast, lg: _Ledger, day: date) -> None:
    kind = KINDS[lg.plan.kind]
    grant = cast.unit.grant(Action.PROJECTS_MANAGE)
    project = service.create_project(
        ctx.conn,
        grant,
        ProjectCreate(
            name=kind.name.format(a=lg.site.place),
            project_type=kind.project_type,
            owner_dept_code=kind.owner_dept,
            investment_wan=Decimal(lg.plan.investment_wan),
            funding_source="区级财政资金",
            planned_start=lg.plan.created + timedelta(days=365),
            tier=Tier.PREPARATION,
        ),
        known_layers=set(ctx.catalog.layers),
        today=day,
    )
    lg.project_id, lg.project_code = project.id, project.code
    footprint = shapely.geometry.mapping(lg.site.geometry)
    service.add_footprint(
        ctx.conn,
        grant,
        project.id,
        FootprintIn(
            footprint=dict(footprint), crs=DISTRICT.storage_crs.label, note="项目用地红线（可研阶段）"
        ),
    )


def _check(ctx: HistoryContext, cast: _Cast, lg: _Ledger, day: date, data_dir: Path) -> None:
    footprint = parse_footprint(dict(shapely.geometry.mapping(lg.site.geometry)), DISTRICT.storage_crs.label)
    kind = KINDS[lg.plan.kind]
    report = evaluate(
        ctx.conn, footprint, kind.preeval_type, plan=get_check_plan(), today=day, data_dir=data_dir
    )
    grant = cast.unit.grant(Action.PREEVAL_RUN)
    stored = store_report_audited(
        ctx.conn, grant, lg.project_code, grant.principal.org_id, footprint.geometry, report
    )
    lg.report_id = stored.id


def _build(
    ctx: HistoryContext, cast: _Cast, lg: _Ledger, is_working: Callable[[date], bool]
) -> list[tuple[date, int, str, Any]]:
    """Units from the report (as the API builds them); the project moves to 前期; the ledger's plan."""
    conn = ctx.conn
    unit_grant = cast.unit.grant(Action.PROJECTS_MANAGE)
    project = service.fetch_project(conn, lg.project_id)
    if project.status is ProjectStatus.RESERVE:
        service.update_project(
            conn,
            unit_grant,
            lg.project_id,
            ProjectUpdate(status=ProjectStatus.PREPARATION),
            project.version,
            False,
            set(ctx.catalog.layers),
        )
    creation.from_pre_evaluation(
        conn, cast.coordinator.grant(Action.DEMOLITION_MANAGE), lg.project_id, lg.report_id
    )
    lg.unit_ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM demolition.unit WHERE project_id = %s ORDER BY unit_code", (lg.project_id,)
        )
    ]
    n = len(lg.unit_ids)
    out: list[tuple[date, int, str, Any]] = []
    for step in plan_units(lg.plan, n, is_working):
        out.append((step.day, 3, "unit", step))
    for bstep in plan_blockers(lg.plan, n, ctx.today, is_working):
        out.append((bstep.day, 4, "blocker", bstep))
    return out


def _person_for(ctx: HistoryContext, cast: _Cast, code: str | None) -> Person:
    """The coordinator of a sub-district (who works its households), else the 土地整备局's."""
    if code is None or not code.startswith("sd-"):
        return cast.coordinator
    if code not in cast.by_code:
        short = code.removeprefix("sd-")
        cast.by_code[code] = ctx.people.person(f"demo-ledger-{short}", "街道征拆办", Role.COORDINATOR, code)
    return cast.by_code[code]


def _department(ctx: HistoryContext, cast: _Cast, code: str) -> Person:
    """The reviewer of a department who works its blockers (a sub-district: its coordinator)."""
    if code.startswith("sd-"):
        return _person_for(ctx, cast, code)
    key = f"dept:{code}"
    if key not in cast.by_code:
        cast.by_code[key] = ctx.people.person(f"demo-ledger-{code}", "征拆问题联络员", Role.REVIEWER, code)
    return cast.by_code[key]


def _unit_step(
    ctx: HistoryContext, cast: _Cast, lg: _Ledger, step: UnitStep, day: date, store: BlobStore | None
) -> None:
    conn = ctx.conn
    unit_id = lg.unit_ids[step.unit]
    unit = ledger.fetch_unit(conn, unit_id)
    person = _person_for(ctx, cast, unit.subdistrict_code)
    grant = person.grant(Action.DEMOLITION_MANAGE)
    rng = random.Random(f"{lg.plan.seed}:unit:{step.unit}:{step.to}:{step.reason is not None}")
    changes: dict[str, Any] = {}
    if step.to is None:  # the survey record
        changes = {"address": f"{lg.site.place}{step.unit + 1}号"}
        if unit.owner_type in (None, OwnerType.PRIVATE):
            changes["owner_type"] = OwnerType.PRIVATE
            changes["owner_name"] = rng.choice(SURNAMES) + rng.choice(GIVEN)
    elif step.to is UnitStatus.VALUED and step.reason is None:
        price = lg.plan.price_per_m2 * rng.uniform(0.9, 1.1)
        changes = {"valuation_yuan": Decimal(round(float(unit.floor_area_m2) * price, -2))}
    elif step.to is UnitStatus.VALUED:  # valued again after the step back
        valuation = (unit.valuation_yuan or Decimal(0)) * Decimal("1.04")
        changes = {"valuation_yuan": valuation.quantize(Decimal(100))}
    elif step.to is UnitStatus.SIGNED:
        agreed = (unit.valuation_yuan or Decimal(0)) * Decimal(str(round(rng.uniform(1.0, 1.06), 3)))
        changes = {"agreed_compensation_yuan": agreed.quantize(Decimal(100))}
    elif step.to is UnitStatus.PAID:
        changes = {"paid_compensation_yuan": unit.agreed_compensation_yuan}
    if changes:
        unit = ledger.update_unit(conn, grant, unit_id, UnitUpdate(**changes), unit.version, False)
    if step.to is None:
        return
    attachment = None
    if step.to is UnitStatus.SIGNED:
        attachment = _document(ctx, person, lg, f"demolition_agreement_{_slug(unit.unit_code)}",
                               f"征收补偿协议-{unit.unit_code}.pdf", [
            "Housing expropriation compensation agreement",
            f"Project {lg.project_code}",
            f"Unit {unit.unit_code}",
            f"Agreed compensation: CNY {unit.agreed_compensation_yuan}",
            f"Signed on {day.isoformat()}",
        ], store)  # fmt: skip
    elif step.to is UnitStatus.HANDED_OVER:
        attachment = _document(ctx, person, lg, f"land_handover_batch_{step.batch or 1}",
                               f"场地移交确认书-第{step.batch or 1}批.pdf", [
            "Site hand-over record",
            f"Project {lg.project_code}",
            f"Batch {step.batch or 1}, handed over on {day.isoformat()}",
        ], store, reuse=True)  # fmt: skip
    note = NOTES[step.to]
    if step.to is UnitStatus.HANDED_OVER and step.batch:
        note = f"场地平整完成，第 {step.batch} 批移交建设单位。"
    ledger.transition_unit(
        conn,
        grant,
        unit_id,
        TransitionIn(
            to_status=step.to,
            reason=step.reason,
            note=note,
            attachment=Attachment(material_id=attachment) if attachment else None,
        ),
        unit.version,
        False,
    )


def _slug(code: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() else "_" for c in code.lower())[:40]


def _document(
    ctx: HistoryContext,
    person: Person,
    lg: _Ledger,
    code: str,
    file_name: str,
    lines: list[str],
    store: BlobStore | None,
    *,
    reuse: bool = False,
) -> int:
    """A demolition material of the project in the person's library (a batch record is stored once)."""
    if reuse:
        row = ctx.conn.execute(
            "SELECT id FROM material.material WHERE project_id = %s AND purpose = 'demolition'"
            " AND material_code = %s AND owner_org_id = %s AND superseded_at IS NULL",
            (lg.project_id, code, person.org_id),
        ).fetchone()
        if row is not None:
            return int(row[0])
    grant = person.grant(Action.MATERIALS_UPLOAD)
    material = store_generated(
        ctx.conn,
        grant.actor,
        person.org_id,
        lg.project_id,
        "demolition",
        code,
        file_name,
        small_pdf(lines),
        "application/pdf",
        store=store,
    )
    return material.id


def _blocker_step(ctx: HistoryContext, cast: _Cast, lg: _Ledger, step: BlockerStep) -> None:
    conn = ctx.conn
    unit_id = lg.unit_ids[step.unit] if step.unit is not None and lg.unit_ids else None
    sd = ledger.fetch_unit(conn, unit_id).subdistrict_code if unit_id else lg.site.subdistrict
    department = (sd or "land-prep") if step.department == "subdistrict" else step.department
    coordinator = _person_for(ctx, cast, sd) if step.action != "escalate" else cast.coordinator
    if step.action == "raise":
        created = blockers.raise_blocker(
            conn,
            coordinator.grant(Action.BLOCKERS_WORK),
            lg.project_id,
            BlockerCreate(
                unit_id=unit_id,
                category=step.category,
                title=step.title,
                description=step.text,
                department_code=department,
                deadline=step.deadline or ctx.today,
            ),
        )
        lg.blocker_ids[step.blocker] = created.id
        return
    blocker_id = lg.blocker_ids[step.blocker]
    current = conn.execute(
        "SELECT version, department_id FROM demolition.blocker WHERE id = %s", (blocker_id,)
    ).fetchone()
    assert current is not None
    assigned = conn.execute("SELECT code FROM auth.organisation WHERE id = %s", (current[1],)).fetchone()
    actor = _department(ctx, cast, str(assigned[0])) if step.by_department and assigned else coordinator
    action = BlockerAction(step.action)
    blockers.act(
        conn,
        actor.grant(Action.BLOCKERS_WORK),
        blocker_id,
        BlockerActionIn(
            action=action,
            body=step.text,
            version=None if action is BlockerAction.COMMENT else current[0],
            department_code=step.department if action is BlockerAction.ESCALATE else None,
            deadline=step.deadline if action is BlockerAction.ESCALATE else None,
        ),
    )
