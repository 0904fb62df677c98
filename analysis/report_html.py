"""The printable HTML pre-evaluation report (正式报告): an A4 document with a static site map, and on screen
an interactive folium map of the footprint and conflicts.

The page is the Jinja2 template templates/report.html (autoescaped); its text comes from
:mod:`analysis.report_document`, its site map is an SVG drawn here (:mod:`analysis.site_map`), so that it
prints and goes into the PDF without a script. The interactive map is folium's (see analysis.folium_embed:
its inline code is allowed by hash, user text reaches it escaped). Leaflet comes from the app itself
(``/vendor/leaflet/``, from web/node_modules), never from a CDN, and no base-map tiles are requested, so the
page names no external host. A downloaded page or a PDF carries the subset of the font it uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import folium
import shapely
from markupsafe import Markup
from psycopg import Connection, sql
from pyproj import Transformer

from analysis.checkplan import CheckPlan
from analysis.findings import Finding
from analysis.folium_embed import local_map, text
from analysis.print_page import PrintedPage, environment, render_page, render_static
from analysis.report import VERDICT_ZH, Report
from analysis.report_document import (
    GRADE_LABELS_EN,
    PLATFORM,
    TEXT,
    Words,
    demolition_rows,
    figure_rows,
    finding_rows,
    header_rows,
    not_checkable_rows,
    percent,
    version_rows,
)
from analysis.report_font import font_face_css
from analysis.rules.schema import GRADE_LABELS_ZH, Grade
from analysis.site_map import FOOTPRINT_COLOUR, GRADE_COLOURS, MapFeature, site_map_svg
from layers.district import STORAGE_SRID

# Setback features (lines, points) are shown within this distance of the footprint.
CONTEXT_M = 50.0


@dataclass
class ConflictShape:
    """One feature a rule fired on, clipped to the footprint (or its surroundings): CRS84 GeoJSON for the
    interactive map, and the same part in the storage CRS for the printed one."""

    rule_id: str
    grade: Grade
    fid: int
    geometry: dict[str, Any]
    storage: shapely.Geometry


@dataclass
class StoredMeta:
    """What the store knows about a report besides the report itself, and the digest of its stored JSON."""

    id: int
    created_at: datetime
    project_code: str | None
    footprint_wkb: bytes
    sha256: str = ""


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
            "SELECT fid, ST_AsGeoJSON(ST_Transform(part, 4326), 7)::json, ST_AsBinary(part) FROM ("
            "SELECT f.fid, CASE WHEN ST_Dimension(f.geom) = 2 "
            "AND ST_Intersects(f.geom, fp.g) THEN ST_Intersection(f.geom, fp.g) "
            "ELSE ST_Intersection(f.geom, ST_Buffer(fp.g, %(reach)s)) END AS part "
            "FROM {table} f, fp WHERE f.fid = ANY(%(fids)s)) clipped ORDER BY fid"
        ).format(table=sql.Identifier("basemap", f"f_{row[0]}"), srid=sql.Literal(STORAGE_SRID))
        for fid, geometry, wkb in conn.execute(query, {"fp": footprint_wkb, "reach": reach, "fids": fids}):
            if geometry and geometry.get("coordinates"):
                storage = shapely.from_wkb(bytes(wkb))
                shapes.append(ConflictShape(finding.rule_id, finding.grade, fid, geometry, storage))
    return shapes


_ENV = environment()


@dataclass(frozen=True)
class PrintOptions:
    """How a report page is delivered: served (app assets), downloaded (all inline) or for a PDF (static)."""

    english: bool = False
    base_url: str = "report"
    inline_assets: tuple[str, str] | None = None  # Leaflet's JS and CSS: the page opens offline
    font_dir: Path | None = None  # the bundled Noto Sans SC: embed the subset the page uses
    static: bool = False  # no script, no interactive map (a PDF)


def _context(
    report: Report, meta: StoredMeta, shapes: list[ConflictShape], plan: CheckPlan, options: PrintOptions
) -> dict[str, Any]:
    words = Words(plan, options.english)
    t, english = words.t, options.english
    terrain = report.terrain
    grades = sorted({s.grade for s in shapes}, key=list(Grade).index)
    verdict_grade = {v: (g.value if g else "approved") for g, v in VERDICT_ZH.items()}.get(report.verdict, "")
    footprint = shapely.from_wkb(meta.footprint_wkb)
    features = [MapFeature(s.grade, s.storage) for s in shapes]
    return {
        "lang": "en" if english else "zh-CN",
        "lang_code": "en" if english else "zh",
        "other_lang": "zh" if english else "en",
        "title": f"{t['title']} #{meta.id}",
        "t": t,
        "platform": PLATFORM[1 if english else 0],
        "base_url": options.base_url,
        "head": header_rows(report, meta.id, meta.created_at, meta.project_code, words),
        "verdict": report.verdict_en if english else report.verdict,
        "verdict_grade": verdict_grade,
        "figures": figure_rows(report, words),
        "site_map": Markup(site_map_svg(footprint, features, title=t["map"])),  # built by ElementTree
        "footprint_colour": FOOTPRINT_COLOUR,
        "legend": [(words.grade(g), GRADE_COLOURS[g]) for g in grades],
        "findings": finding_rows(report, words),
        "not_checkable": not_checkable_rows(report, words),
        "demolition": demolition_rows(report, words),
        "terrain": None
        if terrain is None
        else [
            [t["mean_slope"], f"{terrain.mean_slope_deg:.2f}°"],
            [t["steep"], percent(terrain.steep_share_pct)],
        ],
        "rules_version": report.rules_version,
        "versions": version_rows(report, words),
        "report_id": meta.id,
        "sha256": meta.sha256,
        "verify_how": t["verify_how"].replace("{id}", str(meta.id)),
    }


def render_html(
    report: Report, meta: StoredMeta, shapes: list[ConflictShape], plan: CheckPlan, options: PrintOptions
) -> PrintedPage:
    """The whole report page: header, verdict, site map (SVG), findings, figures, verification line.

    Served, it also shows the interactive folium map; downloaded, it carries Leaflet and the subset font.
    """
    context = _context(report, meta, shapes, plan, options)
    font_css = None if options.font_dir is None else font_face_css(options.font_dir, _page_text(context))
    fmap = report_map(report, shapely.from_wkb(meta.footprint_wkb), shapes, options.english)
    return render_page(_ENV, "report.html", context, fmap, options.inline_assets, font_css)


def render_static_html(
    report: Report,
    meta: StoredMeta,
    shapes: list[ConflictShape],
    plan: CheckPlan,
    font_dir: Path,
    english: bool,
) -> str:
    """The page for a PDF: no script and no interactive map, its font subset inline."""
    context = _context(report, meta, shapes, plan, PrintOptions(english=english, static=True))
    return render_static(_ENV, "report.html", context, font_face_css(font_dir, _page_text(context)))


def _page_text(context: dict[str, Any]) -> str:
    """Every character the page may show: its text as rendered without fonts, plus the tooltips' text."""
    page = _ENV.get_template("report.html").render(
        {**context, "static": True, "inline": {"print_css": ""}, "map": None}
    )
    return page + "0123456789,.%²°×=—–·/-:;()（）：；、"


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
    numbers = {f.rule_id: n for n, f in enumerate(report.findings, start=1)}
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
        grade = GRADE_LABELS_EN[shape.grade] if english else GRADE_LABELS_ZH[shape.grade]
        # Named by the finding's number in the findings table (not its rule id), feature and grade.
        number = numbers[shape.rule_id]
        group = folium.FeatureGroup(name=text(f"{number}. {finding.layer_name_zh}（{shape.fid}）· {grade}"))
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
        name=TEXT["footprint_layer"][1 if english else 0],
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
