"""The demo history's demand pool (需求池): needs raised over two years, triaged by the planners.

Sub-district offices record what residents and deputies ask for, project units and park operators what
enterprises and parks need; the 发改局 planners merge duplicates, accept needs into new reserve projects
(or into a project an earlier need became) and reject the rest with a reason. Every state of the demand
model is present: open (recent needs, and one left waiting), merged, accepted, rejected.

Written as a pure plan (:func:`plan_demands`: the seed, the scale, the day and the sub-districts in play
decide everything) carried out by :func:`generate` through the demand service, one clock day at a time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import shapely
from psycopg import Connection

from app.auth.policy import Action, Role
from app.demo.clock import at
from app.demo.context import HistoryContext, Scale
from app.orgs.service import OrgKind
from app.projects import demands
from app.projects.demands import DemandCreate, SourceKind, Triage
from app.projects.models import ProjectCreate, Tier
from layers.demo.core import scale_bounds
from layers.district import STORAGE_SRID

Outcome = Literal["open", "merged", "accepted_new", "accepted_existing", "rejected"]

COUNTS: dict[Scale, dict[Outcome, int]] = {
    "small": {"open": 3, "merged": 2, "accepted_new": 2, "accepted_existing": 1, "rejected": 2},
    "district": {"open": 8, "merged": 5, "accepted_new": 9, "accepted_existing": 3, "rejected": 11},
    "full": {"open": 8, "merged": 5, "accepted_new": 9, "accepted_existing": 3, "rejected": 11},
}

# Sub-district code → (short name, communities) of the demo district.
COMMUNITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "sd-pinghu": ("平湖", ("白坭坑", "山厦", "辅城坳", "新南", "凤凰")),
    "sd-bantian": ("坂田", ("岗头", "杨美", "马安堂", "五和", "象角塘")),
    "sd-buji": ("布吉", ("大芬", "木棉湾", "长龙", "德兴", "罗岗")),
    "sd-nanwan": ("南湾", ("沙湾", "樟树布", "丹竹头", "下李朗", "吉厦")),
    "sd-jihua": ("吉华", ("甘坑", "水径", "三联", "光华")),
    "sd-henggang": ("横岗", ("大康", "六约", "西坑", "四联", "荷坳")),
    "sd-yuanshan": ("园山", ("大福", "保安", "安良", "银荷")),
    "sd-longcheng": ("龙城", ("爱联", "嶂背", "回龙埔", "龙西", "五联")),
    "sd-longgang": ("龙岗", ("南联", "龙东", "同乐", "新生", "平南")),
    "sd-baolong": ("宝龙", ("宝龙", "龙新", "南约", "同心")),
    "sd-pingdi": ("坪地", ("坪西", "坪东", "六联", "年丰", "中心")),
}


@dataclass(frozen=True)
class Need:
    """A kind of need: who raises it, what it asks, what project it would become."""

    source_kind: SourceKind
    title: str  # {c}: community, {s}: sub-district
    description: str
    project_type: str
    owner_dept: str
    project_name: str
    investment_wan: tuple[int, int]


NEEDS: tuple[Need, ...] = (
    Need(
        SourceKind.RESIDENT,
        "{c}社区增设公交首末站",
        "居民反映{c}社区周边公交线路少、候车远，早晚高峰出行不便，希望增设公交首末站并优化线路。",
        "municipal_road",
        "transport",
        "{s}{c}公交首末站建设工程",
        (800, 2500),
    ),
    Need(
        SourceKind.RESIDENT,
        "{c}片区道路雨季积水严重",
        "每逢强降雨{c}片区主干道积水超过 30 厘米，影响通行和沿街商铺，希望改造排水设施。",
        "water_works",
        "water",
        "{s}{c}片区排水防涝改造工程",
        (1500, 6000),
    ),
    Need(
        SourceKind.RESIDENT,
        "{c}社区缺少休闲绿地",
        "社区人口密集，老人和儿童缺少活动场地，建议利用闲置地块建设口袋公园。",
        "park_greening",
        "forestry",
        "{s}{c}社区口袋公园建设工程",
        (300, 1200),
    ),
    Need(
        SourceKind.RESIDENT,
        "{c}片区小学学位紧张",
        "片区新建住宅入住后适龄儿童增加，现有小学大班额，家长希望新建或扩建学校。",
        "house_building",
        "education",
        "{s}{c}小学扩建工程",
        (12000, 30000),
    ),
    Need(
        SourceKind.RESIDENT,
        "{c}社区增设社康中心",
        "现有社康中心面积小、排队久，居民希望就近增设社区健康服务中心。",
        "house_building",
        "health",
        "{s}{c}社区健康服务中心建设工程",
        (1500, 4000),
    ),
    Need(
        SourceKind.RESIDENT,
        "{c}河段水体发黑发臭",
        "夏季{c}河段有异味，沿岸居民多次投诉，希望开展河道综合整治。",
        "water_works",
        "water",
        "{s}{c}河段综合整治工程",
        (3000, 12000),
    ),
    Need(
        SourceKind.DEPUTY,
        "关于打通{c}断头路的建议",
        "区人大代表建议：{c}片区两条道路长期未贯通，车辆绕行严重，建议纳入年度道路建设计划。",
        "municipal_road",
        "transport",
        "{s}{c}断头路打通工程",
        (4000, 15000),
    ),
    Need(
        SourceKind.DEPUTY,
        "关于在{s}新建养老服务中心的建议",
        "区政协委员提案：{s}街道老龄人口增长较快，养老床位不足，建议新建街道养老服务中心。",
        "house_building",
        "health",
        "{s}街道养老服务中心建设工程",
        (5000, 12000),
    ),
    Need(
        SourceKind.DEPUTY,
        "关于{c}片区雨污分流改造的建议",
        "区人大代表建议：{c}片区部分管网雨污混接，建议实施雨污分流改造。",
        "water_works",
        "water",
        "{s}{c}片区雨污分流改造工程",
        (2000, 8000),
    ),
    Need(
        SourceKind.DEPUTY,
        "关于建设{s}文体中心的建议",
        "区政协委员提案：{s}街道缺少综合性文体场馆，建议规划建设街道文体中心。",
        "house_building",
        "culture",
        "{s}街道文体中心建设工程",
        (8000, 20000),
    ),
    Need(
        SourceKind.ENTERPRISE,
        "{c}工业区配套道路拓宽",
        "工业区货车进出频繁，现状道路仅双向两车道，企业希望拓宽改造并完善交通设施。",
        "municipal_road",
        "transport",
        "{s}{c}工业区配套道路拓宽工程",
        (3000, 9000),
    ),
    Need(
        SourceKind.ENTERPRISE,
        "{c}片区增设公共停车与充电设施",
        "片区企业员工通勤车辆多，停车位和充电桩严重不足，希望建设公共停车场。",
        "municipal_road",
        "transport",
        "{s}{c}公共停车场及充电设施工程",
        (1200, 4000),
    ),
    Need(
        SourceKind.ENTERPRISE,
        "{c}片区供水压力不足",
        "高峰时段片区供水压力不足，影响企业生产，希望对供水管网进行扩容改造。",
        "water_works",
        "water",
        "{s}{c}片区供水管网改造工程",
        (1500, 5000),
    ),
    Need(
        SourceKind.PARK,
        "{c}产业园区配套人才住房",
        "园区入驻企业新增员工较多，周边租房难，园区希望配建人才保障性住房。",
        "house_building",
        "housing",
        "{s}{c}人才住房建设项目",
        (20000, 60000),
    ),
    Need(
        SourceKind.PARK,
        "{c}园区周边绿道与慢行系统",
        "园区员工希望建设连接园区与地铁站的绿道和慢行系统。",
        "park_greening",
        "forestry",
        "{s}{c}园区绿道建设工程",
        (600, 2000),
    ),
    Need(
        SourceKind.PARK,
        "{c}园区污水收集能力提升",
        "园区扩建后污水量增加，现有管网和提升泵站能力不足，希望提升改造。",
        "water_works",
        "water",
        "{s}{c}园区污水管网提升工程",
        (1000, 3500),
    ),
)

REJECTIONS = (
    "经核查，该需求已纳入市级统筹项目，由市相关部门组织实施，不再重复立项。",
    "拟选址位于基本生态控制线内，不具备建设条件，建议另行选址后重新提出。",
    "该片区已有在建同类项目，建成后可满足需求。",
    "需求内容不够明确，请补充位置、规模等信息后重新提交。",
    "属于物业及日常管养范畴，已转交街道办事处协调处理。",
    "资金来源尚未落实，暂不纳入本年度项目储备，下一年度统筹考虑。",
)
ACCEPT_NEW = "符合片区发展需要，纳入政府投资项目储备库，由建设单位开展前期研究。"
ACCEPT_EXISTING = "与已入库项目建设内容一致，纳入该项目统筹实施。"
MERGE = "与此前提交的需求内容相同，合并处理。"
FUNDING = ("区级财政资金", "市区共担", "专项债券", "区级财政资金")
# Units that register needs of enterprises and parks (and build what is accepted).
UNITS = (
    ("works", "龙岗区建筑工务署", "Public Works Office"),
    ("lg-cityinvest", "龙岗区城市建设投资集团有限公司", "Longgang City Investment Group"),
    ("lg-parks", "龙岗区产业园区运营管理有限公司", "Longgang Industrial Park Operations"),
)


@dataclass(frozen=True)
class DemandPlan:
    """One need of the pool and what becomes of it."""

    index: int
    need: int  # index into NEEDS
    subdistrict: str  # organisation code
    community: str
    unit_pick: int  # which unit registers an enterprise's or park's need
    submitted: date
    outcome: Outcome
    decided: date | None = None
    reason: str | None = None
    into: int | None = None  # merged: the kept demand; accepted_existing: the demand whose project it joins
    investment_wan: int = 0
    funding: str = ""
    unit: str = ""  # the project's unit (accepted_new)

    @property
    def submitter(self) -> tuple[str, str, Role, str]:
        """(username, display name, role, organisation) of who registers the need: the sub-district office
        for residents and deputies, a project unit or the park operator for enterprises and parks."""
        if NEEDS[self.need].source_kind in (SourceKind.RESIDENT, SourceKind.DEPUTY):
            short = COMMUNITIES[self.subdistrict][0]
            return (
                f"demo-demand-{self.subdistrict}",
                f"{short}街道党群服务中心",
                Role.VIEWER,
                self.subdistrict,
            )
        code, name, _ = UNITS[self.unit_pick % len(UNITS)]
        return f"demo-demand-{code}", f"{name}前期部", Role.PROJECT_UNIT, code

    @property
    def title(self) -> str:
        """The need's title, at its place."""
        return NEEDS[self.need].title.format(c=self.community, s=COMMUNITIES[self.subdistrict][0])

    @property
    def description(self) -> str:
        """The need's description, at its place."""
        return NEEDS[self.need].description.format(c=self.community, s=COMMUNITIES[self.subdistrict][0])


def working_on_or_after(day: date, is_working: Callable[[date], bool]) -> date:
    """The first working day from ``day`` on."""
    while not is_working(day):
        day += timedelta(days=1)
    return day


def working_on_or_before(day: date, is_working: Callable[[date], bool]) -> date:
    """The last working day up to ``day``."""
    while not is_working(day):
        day -= timedelta(days=1)
    return day


def plan_demands(
    seed: int,
    scale: Scale,
    today: date,
    start: date,
    subdistricts: list[str],
    is_working: Callable[[date], bool],
) -> list[DemandPlan]:
    """Every need of the pool with its submission, outcome and decision day (pure: no database)."""
    rng = random.Random(f"{seed}:demands")
    counts = COUNTS[scale]
    outcomes: list[Outcome] = [o for o, n in counts.items() for _ in range(n)]
    last = working_on_or_before(today - timedelta(days=1), is_working)
    span = (last - start).days
    plans: list[DemandPlan] = []
    # Decided needs: submitted over the history (up to three months ago), in a shuffled order of outcomes
    # where the first is a new project (accepted needs later join it) and no need that follows another
    # (merged, accepted into an existing project) comes among the first few.
    decided_kinds = [o for o in outcomes if o != "open"]
    submitted = sorted(
        working_on_or_after(start + timedelta(days=rng.randrange(0, max(1, span - 90))), is_working)
        for _ in decided_kinds
    )
    rng.shuffle(decided_kinds)
    leaders = [o for o in decided_kinds if o in ("accepted_new", "rejected")]
    followers = [o for o in decided_kinds if o not in ("accepted_new", "rejected")]
    first = leaders.pop(leaders.index("accepted_new"))
    order = [first, *leaders[:2], *followers, *leaders[2:]]
    tail = order[3:]
    rng.shuffle(tail)
    order = order[:3] + tail
    for day, outcome in zip(submitted, order, strict=True):
        plans.append(
            _plan(
                rng,
                len(plans),
                rng.randrange(len(NEEDS)),
                rng.choice(subdistricts),
                day,
                outcome,
                last,
                is_working,
            )
        )
    n_open = counts["open"]
    for k in range(n_open):
        # One need has waited for months (被搁置); the others arrived in the last weeks.
        back = rng.randrange(150, 220) if k == 0 else rng.randrange(2, 40)
        day = working_on_or_before(last - timedelta(days=back), is_working)
        plans.append(
            _plan(
                rng,
                len(plans),
                rng.randrange(len(NEEDS)),
                rng.choice(subdistricts),
                day,
                "open",
                last,
                is_working,
            )
        )
    return _link(rng, plans)


def _plan(
    rng: random.Random,
    index: int,
    need: int,
    subdistrict: str,
    submitted: date,
    outcome: Outcome,
    last: date,
    is_working: Callable[[date], bool],
) -> DemandPlan:
    community = rng.choice(COMMUNITIES[subdistrict][1])
    spec = NEEDS[need]
    decided = None
    if outcome != "open":
        decided = min(last, working_on_or_after(submitted + timedelta(days=rng.randrange(7, 75)), is_working))
    low, high = spec.investment_wan
    return DemandPlan(
        index=index,
        need=need,
        subdistrict=subdistrict,
        community=community,
        unit_pick=rng.randrange(len(UNITS)),
        submitted=submitted,
        outcome=outcome,
        decided=decided,
        reason={
            "rejected": rng.choice(REJECTIONS),
            "accepted_new": ACCEPT_NEW,
            "accepted_existing": ACCEPT_EXISTING,
            "merged": MERGE,
        }.get(outcome),
        investment_wan=rng.randrange(low, high + 1, 50),
        funding=rng.choice(FUNDING),
        unit=subdistrict if spec.project_type in ("park_greening",) else rng.choice(UNITS[:2])[0],
    )


def _link(rng: random.Random, plans: list[DemandPlan]) -> list[DemandPlan]:
    """Give each merged need a kept need and each accepted_existing need a project, both submitted (and
    for the project, decided) before it is decided; a merged need copies its kept need's place and kind."""
    out: list[DemandPlan] = []
    for p in plans:
        if p.outcome == "merged":
            assert p.decided is not None
            kept = [q for q in out if q.outcome in ("accepted_new", "open") and q.submitted < p.submitted]
            if kept:
                q = rng.choice(kept)
                p = _replace(p, into=q.index, need=q.need, subdistrict=q.subdistrict, community=q.community)
            else:  # nothing to merge into yet: it is decided on its own
                p = _replace(p, outcome="rejected", reason=REJECTIONS[2])
        elif p.outcome == "accepted_existing":
            assert p.decided is not None
            decided = p.decided
            projects = [q for q in out if q.outcome == "accepted_new" and q.decided and q.decided < decided]
            if projects:
                q = rng.choice(projects)
                need = NEEDS[q.need]
                similar = [i for i, n in enumerate(NEEDS) if n.project_type == need.project_type]
                p = _replace(p, into=q.index, need=rng.choice(similar), subdistrict=q.subdistrict)
            else:
                p = _replace(p, outcome="accepted_new", reason=ACCEPT_NEW)
        out.append(p)
    return out


def _replace(p: DemandPlan, **changes: Any) -> DemandPlan:
    from dataclasses import replace

    return replace(p, **changes)


# --- execution ----------------------------------------------------------------------------------------


def calendar_days(conn: Connection[Any]) -> Callable[[date], bool]:
    """Whether a day is a working day by the loaded calendar (weekdays where no year is loaded)."""
    from app.calendar.store import load_calendar

    cal = load_calendar(conn)

    def is_working(day: date) -> bool:
        try:
            return cal.is_working(day)
        except Exception:  # a year the calendar does not hold
            return day.weekday() < 5

    return is_working


def places(
    conn: Connection[Any], scale: Scale, salt: str, sample: int = 3000
) -> dict[str, list[tuple[float, float]]]:
    """Sub-district organisation code → (lon, lat) of buildings inside the scale's window, a fixed sample
    (the needs are raised at real places: a building of their sub-district). The sub-district of each
    building is found here with prepared shapes (the database's point-in-polygon on the large sub-district
    outlines takes minutes for a district's sample)."""
    x0, y0, x1, y1 = scale_bounds(scale)
    points = conn.execute(
        """
        SELECT ST_X(p), ST_Y(p), ST_X(ST_Transform(p, 4326)), ST_Y(ST_Transform(p, 4326)) FROM (
          SELECT b.fid, ST_PointOnSurface(b.geom) AS p FROM basemap.layer l
            JOIN basemap.feature b ON b.version_id = l.current_version
           WHERE l.code = 'cur_building' AND b.geom && ST_MakeEnvelope(%s, %s, %s, %s, %s)
           ORDER BY md5(b.fid::text || %s) LIMIT %s
        ) c ORDER BY c.fid
        """,
        (x0, y0, x1, y1, STORAGE_SRID, salt, sample),
    ).fetchall()
    outlines = conn.execute(
        "SELECT f.props ->> 'subdistrict', ST_AsBinary(f.geom) FROM basemap.layer l"
        " JOIN basemap.feature f ON f.version_id = l.current_version WHERE l.code = 'admin_subdistrict'"
        " ORDER BY f.fid"
    ).fetchall()
    out: dict[str, list[tuple[float, float]]] = {}
    if not points:
        return out
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    for sd, wkb in outlines:
        shape = shapely.from_wkb(bytes(wkb))
        shapely.prepare(shape)
        inside = shapely.contains_xy(shape, xs, ys)
        for k in np.flatnonzero(inside):
            out.setdefault(f"sd-{sd}", []).append(
                (round(float(points[k][2]), 6), round(float(points[k][3]), 6))
            )
    return out


def generate(ctx: HistoryContext) -> int:
    """Write the demand pool through the demand service; returns the number of demands."""
    conn, people = ctx.conn, ctx.people
    with ctx.clock.on_day(at(ctx.start, 9)):
        is_working = calendar_days(conn)
        at_places = places(conn, ctx.scale, f"{ctx.seed}:demand-places")
        subdistricts = sorted(sd for sd in at_places if sd in COMMUNITIES) or sorted(COMMUNITIES)
        for code, zh, en in UNITS:
            people.org(code, zh, en, OrgKind.PROJECT_UNIT)
        triager = people.person("demo-demand-triage", "发改局项目储备科", Role.PLANNER, "drc")
    plans = plan_demands(ctx.seed, ctx.scale, ctx.today, ctx.start, subdistricts, is_working)
    rng = ctx.sub_rng("demands:places")
    picks = {p.index: rng.random() for p in plans}
    known = set(ctx.catalog.layers)
    ids: dict[int, int] = {}
    days: dict[date, list[tuple[str, DemandPlan]]] = {}
    for p in plans:
        days.setdefault(p.submitted, []).append(("submit", p))
        if p.decided is not None:
            days.setdefault(p.decided, []).append(("decide", p))
    for day in sorted(days):
        with ctx.clock.on_day(at(day, 9 + rng.randrange(0, 8), rng.choice((0, 15, 30, 45)))):
            # Submissions first: a need may be decided on the day it arrives.
            for verb, p in sorted(days[day], key=lambda e: (e[0] != "submit", e[1].index)):
                if verb == "submit":
                    ids[p.index] = _submit(ctx, p, _pick(at_places.get(p.subdistrict, []), picks[p.index]))
                else:
                    _decide(ctx, p, ids, triager.grant(Action.DEMANDS_TRIAGE), known, day)
    return len(plans)


def _pick(points: list[tuple[float, float]], pick: float) -> tuple[float, float] | None:
    return points[int(pick * len(points))] if points else None


def _submit(ctx: HistoryContext, p: DemandPlan, lonlat: tuple[float, float] | None) -> int:
    person = ctx.people.person(*p.submitter)
    spec = NEEDS[p.need]
    demand = demands.submit(
        ctx.conn,
        person.grant(Action.DEMANDS_SUBMIT),
        DemandCreate(
            source_kind=spec.source_kind,
            title=p.title,
            description=p.description,
            lon=lonlat[0] if lonlat else None,
            lat=lonlat[1] if lonlat else None,
        ),
    )
    return demand.id


def _decide(
    ctx: HistoryContext, p: DemandPlan, ids: dict[int, int], grant: Any, known: set[str], day: date
) -> None:
    demand_id = ids[p.index]
    version = demands.get_demand(ctx.conn, grant, demand_id).version
    if p.outcome == "rejected":
        verb, triage = "reject", Triage(reason=p.reason)
    elif p.outcome == "merged":
        assert p.into is not None
        verb, triage = "merge", Triage(into_id=ids[p.into], reason=p.reason)
    elif p.outcome == "accepted_existing":
        assert p.into is not None
        project_id = demands.get_demand(ctx.conn, grant, ids[p.into]).project_id
        verb, triage = "accept", Triage(project_id=project_id, reason=p.reason)
    else:
        spec = NEEDS[p.need]
        short = COMMUNITIES[p.subdistrict][0]
        verb = "accept"
        triage = Triage(
            reason=p.reason,
            new_project=ProjectCreate(
                name=spec.project_name.format(s=short + "街道", c=p.community),
                project_type=spec.project_type,
                owner_dept_code=spec.owner_dept,
                unit_org_code=p.unit,
                investment_wan=Decimal(p.investment_wan),
                funding_source=p.funding,
                tier=Tier.RESERVE,
            ),
        )
    demands.decide(ctx.conn, grant, demand_id, verb, triage, version, False, known_layers=known, today=day)
