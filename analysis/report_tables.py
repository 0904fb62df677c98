"""The hits of a pre-evaluation report as a table: rows with Chinese (or English) headers, CSV and XLSX."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from analysis.export_cells import AREA, DECIMAL, PERCENT, append_row, csv_text
from analysis.findings import Finding
from analysis.report import Report
from analysis.rules.model import RuleSet
from analysis.rules.schema import GRADE_LABELS_ZH
from layers.catalog.model import get_catalog

# (key, Chinese header, English header) — the columns of the hit table, in order. People read names and
# labels; the rule's and the layer's codes come last, in columns of their own.
COLUMNS: list[tuple[str, str, str]] = [
    ("number", "序号", "No."),
    ("layer_name", "图层", "Layer"),
    ("grade", "等级", "Grade"),
    ("fid", "要素编号", "Feature id"),
    ("overlap_m2", "重叠面积（m²）", "Overlap (m²)"),
    ("share_pct", "占用地比例（%）", "Share of footprint (%)"),
    ("distance_m", "距离（m）", "Distance (m)"),
    ("department", "主管部门", "Department"),
    ("approval_item", "审批事项", "Approval item"),
    ("message", "说明", "Message"),
    ("legal_basis", "法律依据", "Legal basis"),
    ("rule_id", "规则代码", "Rule code"),
    ("layer", "图层代码", "Layer code"),
]
# XLSX number formats of the figure columns (the others are General).
NUMBER_FORMATS = {"overlap_m2": AREA, "share_pct": PERCENT, "distance_m": DECIMAL}
GRADE_LABELS_EN = {grade: grade.value for grade in GRADE_LABELS_ZH}
# A summary line of the XLSX: label, value and the value's number format.
SummaryLine = tuple[str, Any, str | None]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _named(finding: Finding, ruleset: RuleSet, english: bool) -> dict[str, Any]:
    """A finding's columns shared by its rows: names and labels, the codes in their own columns."""
    settings = ruleset.settings
    entry = get_catalog().layers.get(finding.layer)
    item = next((i for i in settings.approval_items.values() if i.name_zh == finding.approval_item), None)
    return {
        "rule_id": finding.rule_id,
        "layer": finding.layer,
        "layer_name": entry.name_en if english and entry else finding.layer_name_zh,
        "grade": (GRADE_LABELS_EN if english else GRADE_LABELS_ZH)[finding.grade],
        "department": settings.department_name(finding.department, english),
        "approval_item": item.name_en if english and item else finding.approval_item,
        "legal_basis": "；".join(finding.legal_basis),
    }


def hit_rows(report: Report, ruleset: RuleSet, *, english: bool = False) -> list[dict[str, Any]]:
    """One row per feature a rule fired on (a rule without features, e.g. terrain, gives one row)."""
    rows: list[dict[str, Any]] = []
    for finding in report.findings:
        common = _named(finding, ruleset, english)
        message = finding.message_en if english else finding.message_zh
        # Each feature's row carries its own text (reports stored before features had one: the finding's).
        hits: list[tuple[int | None, float | None, float | None, str | None]] = [
            (h.fid, h.overlap_m2, h.distance_m, h.message_en if english else h.message_zh)
            for h in finding.features
        ] or [(None, finding.overlap_m2, finding.distance_m, message)]
        for fid, overlap, distance, text in hits:
            share = None if overlap is None else 100 * overlap / report.footprint_area_m2
            rows.append(
                {
                    **common,
                    "number": len(rows) + 1,
                    "fid": fid,
                    "overlap_m2": _round(overlap, 2),
                    "share_pct": _round(share, 2),
                    "distance_m": _round(distance, 2),
                    "message": message if text is None else text,
                }
            )
    return rows


def headers(english: bool = False) -> list[str]:
    """The column headers in the chosen language."""
    return [en if english else zh for _, zh, en in COLUMNS]


def to_csv(rows: list[dict[str, Any]], *, english: bool = False) -> bytes:
    """CSV in UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese correctly."""
    table = [headers(english), *([row[key] for key, _, _ in COLUMNS] for row in rows)]
    return csv_text(table).encode("utf-8-sig")


def to_xlsx(rows: list[dict[str, Any]], summary: list[SummaryLine], *, english: bool = False) -> bytes:
    """A workbook: the hit table on the first sheet, the report summary on the second."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Conflicts" if english else "冲突清单"
    append_row(sheet, headers(english))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = [NUMBER_FORMATS.get(key) for key, _, _ in COLUMNS]
    for row in rows:
        append_row(sheet, [row[key] for key, _, _ in COLUMNS], formats)
    sheet.freeze_panes = "A2"
    for letter, width in zip(
        "ABCDEFGHIJKLM", (6, 16, 8, 10, 14, 14, 10, 18, 24, 60, 40, 30, 22), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    info = book.create_sheet("Summary" if english else "概要")
    for label, value, number_format in summary:
        append_row(info, [label, value], [None, number_format])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
