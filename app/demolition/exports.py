"""Exports: the ledger as CSV, the progress report as XLSX, a printable summary with a folium map.

The summary is the autoescaped Jinja2 template templates/summary.html around a folium map (Leaflet from the
app; see analysis.folium_embed); cells go through analysis.export_cells.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import folium
import shapely
import shapely.geometry
from openpyxl import Workbook

from analysis.export_cells import AREA, COUNT, MONEY, PERCENT, append_row, csv_text
from analysis.folium_embed import local_map, text
from analysis.print_page import PrintedPage, environment, render_page
from app.demolition.blockers import Blocker
from app.demolition.disclosure import ShownUnits
from app.demolition.models import OWNER_LABELS, PIPELINE, STATUS_COLOURS, STATUS_LABELS, Unit
from app.demolition.progress import Breakdown, Progress
from app.projects.models import Project
from layers.district import DISTRICT

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ENV = environment(Path(__file__).parent / "templates")


def _tally_rows(b: Breakdown) -> list[list[Any]]:
    return [[t.name_zh, t.units, t.floor_area_m2, t.households] for t in b.by_status]


# Blocker states as people read them (the page's dmBlockerStatus).
BLOCKER_STATUS_ZH = {"open": "办理中", "escalated": "已升级", "resolved": "已办结"}
LEDGER_HEADERS = [
    "单元编号",
    "版本号",
    "状态",
    "地址",
    "权属类型",
    "权利人",
    "身份证号",
    "联系电话",
    "建筑面积（m²）",
    "户数",
    "评估价（元）",
    "协议补偿（元）",
    "已付补偿（元）",
    "责任街道",
    "责任街道代码",  # the only code column; the import reads 责任街道 (a name or a code) and ignores it
]
# Number formats of the ledger's columns in XLSX (figures stay numbers).
LEDGER_FORMATS = [None] * 8 + [AREA, COUNT, MONEY, MONEY, MONEY, None, None]
# How an export says what it holds (个人信息保护法): a header note, the XLSX's print header and properties,
# and the file name (…-personal / …-masked).
PERSONAL_NOTE = {
    True: "含个人信息（未脱敏），仅限征拆工作使用，不得外传 / Contains personal information (unmasked)",
    False: "个人信息已脱敏 / Personal information masked",
}


def personal_suffix(personal: bool) -> str:
    """The file-name part telling whether an export holds unmasked personal information."""
    return "personal" if personal else "masked"


def ledger_table(units: list[Unit], subdistricts: dict[str, str]) -> list[list[Any]]:
    """The ledger as rows under Chinese headers (the bulk update reads them back as they are); sub-districts
    by name (``subdistricts``: code → name), their codes in a column of their own."""
    rows: list[list[Any]] = [list(LEDGER_HEADERS)]
    for u in units:
        rows.append(
            [
                u.unit_code,
                u.version,
                u.status_zh,
                u.address,
                OWNER_LABELS.get(u.owner_type) if u.owner_type else None,
                u.owner_name,
                u.id_number,
                u.phone,
                u.floor_area_m2,
                u.households,
                u.valuation_yuan,
                u.agreed_compensation_yuan,
                u.paid_compensation_yuan,
                subdistricts.get(u.subdistrict_code, u.subdistrict_code) if u.subdistrict_code else None,
                u.subdistrict_code,
            ]
        )
    return rows


def ledger_csv(units: list[Unit], subdistricts: dict[str, str], personal: bool) -> str:
    """The ledger as CSV with a byte-order mark, so that Excel reads the Chinese headers as UTF-8; the last
    header says whether personal values are unmasked (the bulk update ignores that column)."""
    rows = ledger_table(units, subdistricts)
    rows[0].append(PERSONAL_NOTE[personal])
    for row in rows[1:]:
        row.append(None)
    return "\ufeff" + csv_text(rows)


def progress_xlsx(
    project: Project, progress: Progress, shown: ShownUnits, subdistricts: dict[str, str]
) -> bytes:
    """Four sheets: 进度汇总, 街道进度, 燃尽, 台账; marked as holding personal information or masked."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "进度汇总"
    total = progress.total
    append_row(
        summary, ["项目", project.name, "项目代码", project.code, "统计日期", progress.as_of.isoformat()]
    )
    append_row(
        summary,
        [
            "征拆进度（%）",
            total.progress_pct,
            "预计完成",
            progress.forecast.finish_on,
            progress.forecast.message_zh,
        ],
        [None, PERCENT],
    )
    append_row(summary, [])
    append_row(summary, ["状态", "单元数", "建筑面积（m²）", "户数"])
    tally = [None, COUNT, AREA, COUNT]
    for row in _tally_rows(total):
        append_row(summary, row, tally)
    append_row(summary, ["合计", total.units, total.floor_area_m2, total.households], tally)
    append_row(
        summary,
        ["已拆除（拆除+移交）", total.cleared_units, total.cleared_floor_area_m2, total.cleared_households],
        tally,
    )

    districts = book.create_sheet("街道进度")
    append_row(
        districts,
        ["责任街道", "单元数", "建筑面积（m²）", "户数", "已拆除单元", "已拆除面积（m²）", "进度（%）"]
        + [STATUS_LABELS[s][0] for s in PIPELINE],
    )
    for b in progress.by_subdistrict:
        append_row(
            districts,
            [
                b.name_zh,
                b.units,
                b.floor_area_m2,
                b.households,
                b.cleared_units,
                b.cleared_floor_area_m2,
                b.progress_pct,
            ]
            + [t.units for t in b.by_status],
            [None, COUNT, AREA, COUNT, COUNT, AREA, PERCENT] + [COUNT] * len(PIPELINE),
        )

    burndown = book.create_sheet("燃尽")
    append_row(
        burndown,
        ["日期", "单元数", "剩余单元", "剩余面积（m²）", "剩余户数"]
        + [STATUS_LABELS[s][0] for s in PIPELINE],
    )
    for p in progress.burndown:
        append_row(
            burndown,
            [p.day, p.units, p.remaining_units, p.remaining_floor_area_m2, p.remaining_households]
            + [p.by_status[s.value] for s in PIPELINE],
            [None, COUNT, COUNT, AREA, COUNT] + [COUNT] * len(PIPELINE),
        )

    ledger = book.create_sheet("台账")
    for row in ledger_table(shown.units, subdistricts):
        append_row(ledger, row, LEDGER_FORMATS)
    _mark(book, shown.personal)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _mark(book: Workbook, personal: bool) -> None:
    """The note in 进度汇总 (H1), on every printed page's header, and in the workbook's properties."""
    note = PERSONAL_NOTE[personal]
    book["进度汇总"]["H1"] = note
    for sheet in book.worksheets:
        sheet.oddHeader.center.text = note.split(" / ")[0]
    book.properties.keywords = "含个人信息" if personal else "个人信息已脱敏"
    book.properties.description = note


def _unit_map(units: list[Unit]) -> folium.Map:
    """Units coloured by status on a blank background (no online base map), with code and status tooltips."""
    shapes = [u for u in units if u.geometry]
    lon, lat = DISTRICT.sample_point
    fmap = local_map(location=[lat, lon], zoom_start=15, height=420, prefer_canvas=True)
    if not shapes:
        return fmap
    # Code and status travel as properties (JSON in folium's script), escaped for Leaflet's HTML tooltip;
    # the colour is chosen in Python from the status, so no user text reaches the style function's output.
    features = [
        {
            "type": "Feature",
            "geometry": u.geometry,
            "properties": {"code": text(u.unit_code), "status": text(u.status_zh)},
            "id": str(n),
        }
        for n, u in enumerate(shapes)
    ]
    colours = {str(n): STATUS_COLOURS[u.status] for n, u in enumerate(shapes)}
    folium.GeoJson(
        json.loads(json.dumps({"type": "FeatureCollection", "features": features}, default=str)),
        style_function=lambda f: {
            "fillColor": colours[f["id"]],
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "status"], aliases=[text("单元"), text("状态")]),
    ).add_to(fmap)
    west, south, east, north = shapely.total_bounds([shapely.geometry.shape(u.geometry) for u in shapes])
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def summary_html(
    project: Project, progress: Progress, units: list[Unit], blockers: list[Blocker]
) -> PrintedPage:
    """A printable page: headline figures, status and sub-district tables, open blockers, the map."""
    context = {
        "lang": "zh-CN",
        "title": f"征拆进度 {project.name}",
        "project": project,
        "progress": progress,
        "tally": _tally_rows(progress.total),
        "legend": [(STATUS_LABELS[s][0], STATUS_COLOURS[s]) for s in PIPELINE],
        "subdistricts": [
            [b.name_zh, b.units, b.cleared_units, b.progress_pct] for b in progress.by_subdistrict
        ],
        "open_blockers": [
            [
                b.title,
                b.category_zh,
                b.department_name_zh,
                b.deadline,
                BLOCKER_STATUS_ZH.get(b.status, b.status),
                b.unit_code,
            ]
            for b in blockers
            if b.status != "resolved"
        ],
    }
    return render_page(_ENV, "summary.html", context, _unit_map(units))
