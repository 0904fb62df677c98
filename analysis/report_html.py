"""The printable HTML pre-evaluation report: summary, a folium map of footprint and conflicts, tables.

The page is the Jinja2 template templates/report.html (autoescaped) around a folium map (see
analysis.folium_embed: its inline code is allowed by hash, user text reaches it escaped). Leaflet comes from
the app itself (``/vendor/leaflet/``, from web/node_modules), never from a CDN, and no base-map tiles are
requested, so the page names no external host.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import folium
import shapely
from psycopg import Connection, sql
from pyproj import Transformer

from analysis.findings import Finding
from analysis.folium_embed import local_map, text
from analysis.print_page import PrintedPage, environment, render_page
from analysis.report import Report
from analysis.report_tables import COLUMNS, hit_rows
from analysis.rules.model import RuleSet
from analysis.rules.schema import Grade
from layers.district import STORAGE_SRID

GRADE_COLOURS = {
    Grade.PROHIBITED: "#d7191c",
    Grade.CONDITIONAL: "#fdae61",
    Grade.ADVISORY: "#2b83ba",
    Grade.INFO: "#7f7f7f",
}
# Setback features (lines, points) are shown within this distance of the footprint.
CONTEXT_M = 50.0


@dataclass
class ConflictShape:
    """One feature a rule fired on, as CRS84 GeoJSON clipped to the footprint (or its surroundings)."""

    rule_id: str
    grade: Grade
    fid: int
    geometry: dict[str, Any]


@dataclass
class StoredMeta:
    """What the store knows about a report besides the report itself."""

    id: int
    created_at: datetime
    project_code: str | None
    footprint_wkb: bytes


def conflict_shapes(conn: Connection[Any], report: Report, footprint_wkb: bytes) -> list[ConflictShape]:
    """Fetch, from the layer versions the report used, the part of every hit feature to draw."""
    shapes: list[ConflictShape] = []
    for finding in report.findings:
        number = report.layer_versions.get(finding.layer)
        fids = [h.fid for h in finding.features]
        if number is None or not fids:
            continue
        row = conn.execute(
            "SELECT id FROM basemap.layer_version WHERE layer_code = %s AND number = %s",
            (finding.layer, number),
        ).fetchone()
        if row is None:
            continue
        reach = max(CONTEXT_M, (finding.distance_m or 0.0) + CONTEXT_M)
        query = sql.SQL(
            "WITH fp AS (SELECT ST_GeomFromWKB(%(fp)s, {srid}) AS g) "
            "SELECT f.fid, ST_AsGeoJSON(ST_Transform(CASE WHEN ST_Dimension(f.geom) = 2 "
            "AND ST_Intersects(f.geom, fp.g) THEN ST_Intersection(f.geom, fp.g) "
            "ELSE ST_Intersection(f.geom, ST_Buffer(fp.g, %(reach)s)) END, 4326), 7)::json "
            "FROM {table} f, fp WHERE f.fid = ANY(%(fids)s) ORDER BY f.fid"
        ).format(table=sql.Identifier("basemap", f"f_{row[0]}"), srid=sql.Literal(STORAGE_SRID))
        for fid, geometry in conn.execute(query, {"fp": footprint_wkb, "reach": reach, "fids": fids}):
            if geometry and geometry.get("coordinates"):
                shapes.append(ConflictShape(finding.rule_id, finding.grade, fid, geometry))
    return shapes


_TEXT = {
    "title": ("项目预评价报告", "Pre-evaluation report"),
    "report_no": ("报告编号", "Report"),
    "created": ("生成时间", "Created"),
    "project_code": ("项目代码", "Project code"),
    "project_type": ("项目类型", "Project type"),
    "verdict": ("结论", "Verdict"),
    "footprint": ("用地面积", "Footprint area"),
    "buildable": ("可建设面积", "Buildable area"),
    "prohibited": ("禁止类占用面积", "Prohibited area"),
    "conditional": ("有条件类占用面积", "Conditional area"),
    "rules": ("规则版本", "Rules version"),
    "map": ("用地范围与冲突分布", "Footprint and conflicts"),
    "footprint_layer": ("用地范围", "Footprint"),
    "findings": ("冲突与提示", "Findings"),
    "none": ("无", "None"),
    "not_checkable": (
        "无法判定的图层（无数据不等于无冲突）",
        "Layers that cannot answer (no data is not no conflict)",
    ),
    "reason": ("原因", "Reason"),
    "demolition": ("征拆测算", "Demolition estimate"),
    "buildings": ("涉及建筑", "Buildings"),
    "floor_area": ("建筑面积", "Floor area"),
    "households": ("户数", "Households"),
    "state_land": ("国有土地", "State land"),
    "collective_land": ("集体土地", "Collective land"),
    "compensation": ("估算补偿", "Estimated compensation"),
    "unpriced": ("未能估价", "Unpriced"),
    "terrain": ("地形", "Terrain"),
    "mean_slope": ("平均坡度", "Mean slope"),
    "steep": ("坡度大于 25° 的比例", "Share steeper than 25°"),
    "versions": ("所用图层版本", "Layer versions used"),
    "downloads": ("下载", "Download"),
    "print": ("打印", "Print"),
    "other_lang": ("English", "中文"),
    "repairs": ("几何修复", "Geometry repairs"),
}

_ENV = environment()


def _summary(
    report: Report, meta: StoredMeta, ruleset: RuleSet, t: dict[str, str], english: bool
) -> list[Any]:
    kind = ruleset.settings.project_types.get(report.project_type)
    kind_name = (kind.name_en if english else kind.name_zh) if kind else report.project_type
    summary: list[list[Any]] = [
        [t["report_no"], meta.id],
        [t["created"], meta.created_at.strftime("%Y-%m-%d %H:%M")],
        [t["project_code"], meta.project_code or "—"],
        [t["project_type"], kind_name],
        [t["footprint"], f"{report.footprint_area_m2:,.1f} m²"],
        [t["prohibited"], f"{report.prohibited_area_m2():,.1f} m²"],
        *([[t["conditional"], f"{report.conditional.area_m2:,.1f} m²"]] if report.conditional else []),
        [t["buildable"], f"{report.buildable.area_m2:,.1f} m²（{report.buildable.share_pct:.2f} %）"],
        [t["rules"], report.rules_version],
    ]
    if report.repairs:
        summary.append([t["repairs"], "；".join(report.repairs)])
    return summary


def _demolition(report: Report, t: dict[str, str], english: bool) -> list[list[Any]]:
    d = report.demolition
    demolition: list[list[Any]] = [
        [t["buildings"], d.buildings],
        [t["floor_area"], f"{d.floor_area_m2:,.2f} m²"],
        [t["households"], d.households],
        [t["state_land"], f"{d.state_land_m2:,.1f} m²"],
        [t["collective_land"], f"{d.collective_land_m2:,.1f} m²"],
    ]
    if d.compensation is not None:
        demolition.append([t["compensation"], f"{d.compensation.total_yuan:,.0f} 元"])
        for line in d.compensation.lines:
            label = f"  {line.zone} · {line.owner_type if english else line.owner_type_zh}"
            demolition.append(
                [label, f"{line.floor_area_m2:,.2f} m² × {line.unit_price:,.0f} = {line.amount_yuan:,.0f} 元"]
            )
        if d.compensation.unpriced:
            codes = "、".join(
                f"{u.building_code or u.fid}（{u.reason_en if english else u.reason_zh}）"
                for u in d.compensation.unpriced
            )
            demolition.append([t["unpriced"], codes])
    return demolition


def render_html(
    report: Report,
    meta: StoredMeta,
    shapes: list[ConflictShape],
    ruleset: RuleSet,
    *,
    english: bool = False,
    base_url: str = "report",
    inline_assets: tuple[str, str] | None = None,
) -> PrintedPage:
    """The whole report page; the map shows the footprint and one path per conflict feature.

    With ``inline_assets`` (Leaflet's JS and CSS) the page carries Leaflet itself and opens offline.
    """
    t = {k: v[1 if english else 0] for k, v in _TEXT.items()}
    rows = hit_rows(report, ruleset, english=english)
    terrain = report.terrain
    context = {
        "lang": "en" if english else "zh-CN",
        "lang_code": "en" if english else "zh",
        "other_lang": "zh" if english else "en",
        "title": f"{t['title']} #{meta.id}",
        "t": t,
        "base_url": base_url,
        "verdict": report.verdict_en if english else report.verdict,
        "summary": _summary(report, meta, ruleset, t, english),
        "hit_head": [en if english else zh for _, zh, en in COLUMNS],
        "hits": [[r[k] for k, _, _ in COLUMNS] for r in rows],
        "not_checkable": [
            [f"{n.layer_name_zh}（{n.layer}）", n.reason_en if english else n.reason_zh]
            for n in report.not_checkable
        ],
        "demolition": _demolition(report, t, english),
        "terrain": None
        if terrain is None
        else [
            [t["mean_slope"], f"{terrain.mean_slope_deg:.2f}°"],
            [t["steep"], f"{terrain.steep_share_pct:.2f} %"],
        ],
        "versions": sorted(report.layer_versions.items()),
    }
    fmap = report_map(report, shapely.from_wkb(meta.footprint_wkb), shapes, english)
    return render_page(_ENV, "report.html", context, fmap, inline_assets)


def _feature_message(finding: Finding, fid: int, english: bool) -> str:
    """The message of one feature of a finding (a report stored before features had one: the finding's)."""
    hit = next((h for h in finding.features if h.fid == fid), None)
    text = None if hit is None else hit.message_en if english else hit.message_zh
    if text is None:
        return finding.message_en if english else finding.message_zh
    return text


def report_map(
    report: Report, footprint: shapely.Geometry, shapes: list[ConflictShape], english: bool
) -> folium.Map:
    """The folium map: a layer per conflict feature in its grade's colour, then the footprint, framed."""
    to_lonlat = Transformer.from_crs(STORAGE_SRID, 4326, always_xy=True)
    lonlat = shapely.transform(footprint, lambda x, y: to_lonlat.transform(x, y), interleaved=False)
    fmap = local_map(height=520)
    names = {f.rule_id: f for f in report.findings}
    for shape in shapes:
        finding = names[shape.rule_id]
        colour = GRADE_COLOURS[shape.grade]
        style = {
            "color": colour,
            "fillColor": colour,
            "weight": 2,
            "fillOpacity": 0.45,
            "className": f"duogui-conflict duogui-{shape.grade.value}",
        }
        message = _feature_message(finding, shape.fid, english)
        group = folium.FeatureGroup(name=text(f"{finding.layer_name_zh} · {shape.rule_id}"))
        # The tooltip travels as a property (JSON in folium's script), escaped for Leaflet's HTML.
        tip = text(f"{finding.layer_name_zh}（{shape.fid}）：{message}")
        feature = {"type": "Feature", "geometry": shape.geometry, "properties": {"tooltip": tip}}
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [feature]},
            style_function=lambda _f, s=style: s,
            marker=folium.CircleMarker(radius=6),
            tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False),
        ).add_to(group)
        group.add_to(fmap)
    # The footprint lies over the conflicts it holds: it lets the mouse through to their tooltips.
    folium.GeoJson(
        {"type": "Feature", "geometry": shapely.geometry.mapping(lonlat), "properties": {}},
        name=_TEXT["footprint_layer"][1 if english else 0],
        interactive=False,
        style_function=lambda _f: {
            "color": "#1f3b99",
            "weight": 3,
            "fillOpacity": 0.05,
            "className": "duogui-footprint",
        },
    ).add_to(fmap)
    west, south, east, north = shapely.bounds(lonlat)
    fmap.fit_bounds([[south, west], [north, east]], padding=(20, 20))
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
