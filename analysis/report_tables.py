"""The hits of a pre-evaluation report as a table: rows with Chinese (or English) headers, CSV and XLSX."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from analysis.export_cells import append_row, csv_text
from analysis.report import Report
from analysis.rules.model import RuleSet
from analysis.rules.schema import GRADE_LABELS_ZH

# (key, Chinese header, English header) — the columns of the hit table, in order.
COLUMNS: list[tuple[str, str, str]] = [
    ("number", "序号", "No."),
    ("rule_id", "规则", "Rule"),
    ("layer", "图层代码", "Layer code"),
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
]
GRADE_LABELS_EN = {grade: grade.value for grade in GRADE_LABELS_ZH}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def hit_rows(report: Report, ruleset: RuleSet, *, english: bool = False) -> list[dict[str, Any]]:
    """One row per feature a rule fired on (a rule without features, e.g. terrain, gives one row)."""
    rows: list[dict[str, Any]] = []
    for finding in report.findings:
        common = {
            "rule_id": finding.rule_id,
            "layer": finding.layer,
            "layer_name": finding.layer_name_zh,
            "grade": (GRADE_LABELS_EN if english else GRADE_LABELS_ZH)[finding.grade],
            "department": ruleset.settings.department_name(finding.department, english),
            "approval_item": finding.approval_item,
            "legal_basis": "；".join(finding.legal_basis),
        }
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
                    "share_pct": _round(share, 4),
                    "distance_m": _round(distance, 3),
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


def to_xlsx(rows: list[dict[str, Any]], summary: list[tuple[str, Any]], *, english: bool = False) -> bytes:
    """A workbook: the hit table on the first sheet, the report summary on the second."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Conflicts" if english else "冲突清单"
    append_row(sheet, headers(english))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(sheet, [row[key] for key, _, _ in COLUMNS])
    sheet.freeze_panes = "A2"
    for letter, width in zip(
        "ABCDEFGHIJKLM", (6, 30, 22, 16, 8, 10, 14, 14, 10, 18, 24, 60, 40), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    info = book.create_sheet("Summary" if english else "概要")
    for label, value in summary:
        append_row(info, [label, value])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
