"""Exports: the ledger as CSV, the progress report as XLSX, a printable summary with a map (local Leaflet)."""

from __future__ import annotations

import csv
import io
import json
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure
from openpyxl import Workbook

from app.demolition.blockers import Blocker
from app.demolition.models import OWNER_LABELS, PIPELINE, STATUS_COLOURS, STATUS_LABELS, Unit
from app.demolition.progress import Breakdown, Progress
from app.projects.models import Project
from app.web import LEAFLET_PATH

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _tally_rows(b: Breakdown) -> list[list[Any]]:
    return [[t.name_zh, t.units, t.floor_area_m2, t.households] for t in b.by_status]


LEDGER_HEADERS = [
    "单元编号",
    "版本号",
    "状态",
    "地址",
    "权属类型",
    "权利人",
    "建筑面积（m²）",
    "户数",
    "评估价（元）",
    "协议补偿（元）",
    "已付补偿（元）",
    "责任街道",
]


def ledger_table(units: list[Unit]) -> list[list[Any]]:
    """The ledger as rows under Chinese headers (the bulk update reads them back as they are)."""
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
                u.floor_area_m2,
                u.households,
                u.valuation_yuan,
                u.agreed_compensation_yuan,
                u.paid_compensation_yuan,
                u.subdistrict_code,
            ]
        )
    return rows


def ledger_csv(units: list[Unit]) -> str:
    """The ledger as CSV with a byte-order mark, so that Excel reads the Chinese headers as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in ledger_table(units):
        writer.writerow(["" if value is None else value for value in row])
    return "\ufeff" + buffer.getvalue()


def progress_xlsx(project: Project, progress: Progress, units: list[Unit]) -> bytes:
    """Four sheets: 进度汇总, 街道进度, 燃尽, 台账."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "进度汇总"
    total = progress.total
    summary.append(["项目", project.name, "项目代码", project.code, "统计日期", progress.as_of.isoformat()])
    summary.append(
        [
            "征拆进度（%）",
            total.progress_pct,
            "预计完成",
            progress.forecast.finish_on,
            progress.forecast.message_zh,
        ]
    )
    summary.append([])
    summary.append(["状态", "单元数", "建筑面积（m²）", "户数"])
    for row in _tally_rows(total):
        summary.append(row)
    summary.append(["合计", total.units, total.floor_area_m2, total.households])
    summary.append(
        ["已拆除（拆除+移交）", total.cleared_units, total.cleared_floor_area_m2, total.cleared_households]
    )

    districts = book.create_sheet("街道进度")
    districts.append(
        ["责任街道", "单元数", "建筑面积（m²）", "户数", "已拆除单元", "已拆除面积（m²）", "进度（%）"]
        + [STATUS_LABELS[s][0] for s in PIPELINE]
    )
    for b in progress.by_subdistrict:
        districts.append(
            [
                b.name_zh,
                b.units,
                b.floor_area_m2,
                b.households,
                b.cleared_units,
                b.cleared_floor_area_m2,
                b.progress_pct,
            ]
            + [t.units for t in b.by_status]
        )

    burndown = book.create_sheet("燃尽")
    burndown.append(
        ["日期", "单元数", "剩余单元", "剩余面积（m²）", "剩余户数"] + [STATUS_LABELS[s][0] for s in PIPELINE]
    )
    for p in progress.burndown:
        burndown.append(
            [p.day, p.units, p.remaining_units, p.remaining_floor_area_m2, p.remaining_households]
            + [p.by_status[s.value] for s in PIPELINE]
        )

    ledger = book.create_sheet("台账")
    for row in ledger_table(units):
        ledger.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _unit_map(units: list[Unit]) -> folium.Map:
    """Units coloured by status on a blank background (no online base map), Leaflet from this server."""
    shapes = [u for u in units if u.geometry]
    fmap = folium.Map(
        location=[22.7, 114.25], zoom_start=15, tiles=None, control_scale=True, prefer_canvas=True
    )
    # Only Leaflet itself is needed, from the local install; folium's CDN defaults are dropped.
    fmap.default_js = [("leaflet", f"{LEAFLET_PATH}/leaflet.js")]
    fmap.default_css = [("leaflet_css", f"{LEAFLET_PATH}/leaflet.css")]
    if not shapes:
        return fmap
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": u.geometry,
                "properties": {
                    "code": u.unit_code,
                    "status": u.status_zh,
                    "colour": STATUS_COLOURS[u.status],
                },
            }
            for u in shapes
        ],
    }
    folium.GeoJson(
        json.loads(json.dumps(collection, default=str)),
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.8,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "status"], aliases=["单元", "状态"]),
    ).add_to(fmap)
    lons, lats = zip(*[c for u in shapes for c in _coordinates(u.geometry)], strict=True)
    fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return fmap


def _coordinates(geometry: dict[str, Any] | None) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(value: Any) -> None:
        if isinstance(value, list | tuple) and value and isinstance(value[0], int | float):
            out.append((float(value[0]), float(value[1])))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk((geometry or {}).get("coordinates"))
    return out


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
<style>
 body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 1.5em; }
 table { border-collapse: collapse; margin: 0.5em 0 1em; }
 th, td { border: 1px solid #999; padding: 2px 8px; }
 .legend span { display: inline-block; width: 1em; height: 1em; margin: 0 0.3em 0 1em;
                vertical-align: middle; }
 .folium-map { height: 420px !important; position: relative !important; border: 1px solid #999; }
 @media print { .folium-map { page-break-inside: avoid; } }
</style>
"""


def summary_html(project: Project, progress: Progress, units: list[Unit], blockers: list[Blocker]) -> str:
    """A printable page: headline figures, status and sub-district tables, open blockers, the map."""
    total = progress.total
    figure = Figure(title=f"征拆进度 {project.name}")
    legend = "".join(
        f'<span style="background:{STATUS_COLOURS[s]}"></span>{STATUS_LABELS[s][0]}' for s in PIPELINE
    )
    figure.header.add_child(Element(_STYLE))
    figure.html.add_child(
        Element(
            f"<h1>征拆进度报告：{escape(project.name)}</h1>"
            f"<p>项目代码 {escape(project.code)} · 统计日期 {progress.as_of} · 征拆进度 "
            f"<b>{'—' if total.progress_pct is None else f'{total.progress_pct}%'}</b>（按建筑面积）· "
            f"{escape(progress.forecast.message_zh)}</p>"
            + _table(["状态", "单元数", "建筑面积（m²）", "户数"], _tally_rows(total))
            + f'<p class="legend">图例：{legend}</p>'
        )
    )
    _unit_map(units).add_to(figure)
    open_blockers = [
        [b.title, b.category_zh, b.department_code, b.deadline, b.status, b.unit_code]
        for b in blockers
        if b.status != "resolved"
    ]
    figure.html.add_child(
        Element(
            "<h2>各街道进度</h2>"
            + _table(
                ["责任街道", "单元数", "已拆除", "进度（%）"],
                [[b.name_zh, b.units, b.cleared_units, b.progress_pct] for b in progress.by_subdistrict],
            )
            + "<h2>未办结问题</h2>"
            + (
                _table(["问题", "类别", "责任部门", "期限", "状态", "单元"], open_blockers)
                if open_blockers
                else "<p>无</p>"
            )
        )
    )
    return figure.render()
