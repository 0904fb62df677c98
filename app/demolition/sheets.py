"""Spreadsheets of the ledger: the documented template, reading XLSX/CSV, converting cells to fields.

One column set serves the import (new units) and the bulk update (existing units, with ``version`` and
``to_status``). Headers may be the Chinese template headers or the English keys (see docs/DEMOLITION.md).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import shapely
from openpyxl import Workbook, load_workbook
from psycopg import Connection

from analysis.export_cells import append_row, read_csv_cell
from app.demolition.models import OWNER_LABELS, PIPELINE, STATUS_LABELS, OwnerType
from app.demolition.personal import PERSONAL_FIELDS, is_masked, normalise_phone, normalise_resident_id
from app.errors import PayloadTooLarge, Unprocessable
from layers.district import DISTRICT

MAX_ROWS = 20_000
LEDGER_SHEETS = ("台账", "征拆台账", "批量更新")


@dataclass(frozen=True)
class Column:
    """A template column: its key, Chinese header, kind and help text."""

    key: str
    header_zh: str
    kind: str  # text, decimal, integer, owner, status, subdistrict, wkt, resident_id, phone
    help_zh: str
    limit: Decimal = Decimal("1e13")  # largest accepted number (the column's database range)
    aliases: tuple[str, ...] = ()  # other accepted headers


COLUMNS: list[Column] = [
    Column("unit_code", "单元编号", "text", "必填；户号或楼栋编码，项目内唯一"),
    Column("address", "地址", "text", "门牌地址"),
    Column("owner_type", "权属类型", "owner", "国有、集体或私人"),
    Column("owner_name", "权利人", "text", "产权人或使用人（个人信息）", aliases=("户主姓名",)),
    Column("id_number", "身份证号", "resident_id", "权利人 18 位居民身份证号（个人信息）"),
    Column("phone", "联系电话", "phone", "11 位手机号或带区号的固定电话（个人信息）"),
    Column("floor_area_m2", "建筑面积（m²）", "decimal", "数字，两位小数", Decimal("1e9")),
    Column("households", "户数", "integer", "整数", Decimal(100_000)),
    Column("valuation_yuan", "评估价（元）", "decimal", "数字"),
    Column("agreed_compensation_yuan", "协议补偿（元）", "decimal", "数字"),
    Column("paid_compensation_yuan", "已付补偿（元）", "decimal", "数字"),
    Column("subdistrict_code", "责任街道", "subdistrict", "街道名称（平湖街道）或组织代码（sd-pinghu）"),
    Column(
        "wkt",
        f"几何（WKT，{DISTRICT.storage_crs.label}）",
        "wkt",
        "可选；CGCS2000 3 度带 114°E 平面坐标的多边形",
    ),
]
BULK_COLUMNS: list[Column] = [
    Column("unit_code", "单元编号", "text", "必填；已有单元的编号"),
    Column("version", "版本号", "integer", "必填；导出台账时的版本号", Decimal(2**31 - 1)),
    Column(
        "to_status",
        "目标状态",
        "status",
        "调查、评估、签约、补偿、腾空、拆除、移交；留空或与当前相同表示不变",
        aliases=("状态",),  # the 台账 sheet of the progress export round-trips
    ),
    Column("reason", "理由", "text", "跳步或退回时必填"),
    Column("note", "备注", "text", "状态变更说明"),
    *[c for c in COLUMNS if c.key not in ("unit_code", "wkt")],
]


def column_aliases(columns: list[Column]) -> dict[str, str]:
    """Accepted header spellings (key, Chinese header, header without its unit) → column key."""
    out: dict[str, str] = {}
    for c in columns:
        for name in (c.key, c.header_zh, c.header_zh.split("（")[0], *c.aliases):
            out[name.strip().lower()] = c.key
    return out


def template_xlsx(columns: list[Column], sheet_title: str) -> bytes:
    """The template workbook: headers, one example row's help line, and a sheet explaining each column."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title
    append_row(sheet, [c.header_zh for c in columns])
    notes = book.create_sheet("填写说明")
    append_row(notes, ["列名", "英文键", "说明"])
    for c in columns:
        append_row(notes, [c.header_zh, c.key, c.help_zh])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_table(data: bytes, filename: str, columns: list[Column]) -> list[dict[str, Any]]:
    """Rows of an XLSX or CSV file as {key: cell}, each with its spreadsheet row number as ``_row``."""
    lowered = filename.lower()
    if lowered.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif lowered.endswith(".csv"):
        rows = _csv_rows(data)
    else:
        raise Unprocessable(
            "仅支持 .xlsx 或 .csv 表格。",
            "Only .xlsx and .csv spreadsheets are accepted.",
            code="unsupported_sheet",
        )
    if not rows:
        raise Unprocessable("表格为空。", "The spreadsheet is empty.", code="empty_sheet")
    aliases = column_aliases(columns)
    keys = [aliases.get(str(h or "").strip().lower()) for h in rows[0]]
    if "unit_code" not in keys:
        raise Unprocessable(
            "表格缺少“单元编号”列，请使用模板。",
            "The spreadsheet has no 'unit_code' (单元编号) column; use the template.",
            code="missing_column",
        )
    out = []
    for number, cells in enumerate(rows[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in cells):
            continue
        record = {k: cells[i] if i < len(cells) else None for i, k in enumerate(keys) if k}
        record["_row"] = number
        out.append(record)
    if len(out) > MAX_ROWS:
        raise PayloadTooLarge(f"表格超过 {MAX_ROWS} 行。", f"More than {MAX_ROWS} rows.")
    return out


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file; none may become a 500
        raise Unprocessable(
            "无法读取 XLSX 文件。", "The XLSX file cannot be read.", code="unreadable_sheet"
        ) from exc
    # The progress export's 台账 sheet can be edited and sent back; otherwise the first sheet is read.
    sheet = next((ws for ws in book.worksheets if ws.title in LEDGER_SHEETS), book.worksheets[0])
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def _csv_rows(data: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Unprocessable("无法识别 CSV 编码。", "Unknown CSV encoding.", code="unreadable_sheet")
    # Our own exports quote formula-like text ('=…); the quote is not part of the value.
    return [[read_csv_cell(cell) for cell in r] for r in csv.reader(io.StringIO(text))]


def subdistrict_lookup(conn: Connection[Any]) -> dict[str, str]:
    """Names and codes of sub-districts (平湖街道, 平湖, sd-pinghu, pinghu) → organisation code."""
    out: dict[str, str] = {}
    for code, name in conn.execute("SELECT code, name_zh FROM auth.organisation WHERE kind = 'subdistrict'"):
        short = name.replace("办事处", "")
        for alias in (code, code.removeprefix("sd-"), name, short, short.removesuffix("街道")):
            out[alias.lower()] = code
    return out


def subdistrict_names(conn: Connection[Any]) -> dict[str, str]:
    """Sub-district organisation code → Chinese name (平湖街道办事处), for exports people read."""
    return dict(
        conn.execute("SELECT code, name_zh FROM auth.organisation WHERE kind = 'subdistrict'").fetchall()
    )


class CellError(ValueError):
    """A cell that cannot be read, with a bilingual message."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


_OWNER_WORDS = {label: o for o, label in OWNER_LABELS.items()} | {o.value: o for o in OwnerType}
_STATUS_WORDS = {STATUS_LABELS[s][0]: s for s in PIPELINE} | {s.value: s for s in PIPELINE}


def convert(column: Column, value: Any, subdistricts: dict[str, str], *, masked_ok: bool = False) -> Any:
    """One cell as the field value (None when blank); CellError when it cannot be read.

    A masked personal value (张*) is returned as it is when ``masked_ok`` (the bulk update compares it with
    the stored value's mask), else refused: it must never overwrite or create the real value.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if column.key in PERSONAL_FIELDS and is_masked(text):
        if masked_ok:
            return text
        raise CellError(
            f"“{column.header_zh}”是脱敏后的值（含 *），不能写入", f"{column.key} is a masked value (with *)"
        )
    if column.kind == "text":
        return text
    if column.kind in ("resident_id", "phone"):
        normalise = normalise_resident_id if column.kind == "resident_id" else normalise_phone
        try:
            return normalise(text)
        except ValueError as exc:
            zh, en = str(exc).split("|")
            raise CellError(f"“{column.header_zh}”无效：{zh}", f"{column.key} is invalid: {en}") from None
    if column.kind in ("decimal", "integer"):
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation as exc:
            raise CellError(
                f"“{column.header_zh}”不是数字：{text}", f"{column.key} is not a number: {text}"
            ) from exc
        if not number.is_finite() or number < 0 or number > column.limit:
            raise CellError(
                f"“{column.header_zh}”须在 0 到 {column.limit:,.0f} 之间",
                f"{column.key} must lie between 0 and {column.limit:,.0f}",
            )
        if column.kind == "integer":
            if number != number.to_integral_value():
                raise CellError(f"“{column.header_zh}”须为整数", f"{column.key} must be a whole number")
            return int(number)
        return number.quantize(Decimal("0.01"))
    if column.kind == "owner":
        if text not in _OWNER_WORDS:
            raise CellError(
                f"权属类型“{text}”应为国有、集体或私人", f"owner_type '{text}' is not 国有/集体/私人"
            )
        return _OWNER_WORDS[text]
    if column.kind == "status":
        if text not in _STATUS_WORDS:
            raise CellError(f"未知状态“{text}”", f"unknown status '{text}'")
        return _STATUS_WORDS[text]
    if column.kind == "subdistrict":
        if text.lower() not in subdistricts:
            raise CellError(f"未知责任街道“{text}”", f"unknown sub-district '{text}'")
        return subdistricts[text.lower()]
    return _wkt(text)


def _wkt(text: str) -> shapely.Geometry:
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise CellError("几何 WKT 无法解析", "the WKT geometry cannot be parsed") from exc
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise CellError("几何须为多边形", "the geometry must be a polygon")
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():  # GEOS reads NaN and inf (and 1e400 as inf) in WKT
        raise CellError(
            "几何坐标含非有限数值（NaN、Infinity）", "the geometry has a coordinate that is not finite"
        )
    x, y = xy[:, 0], xy[:, 1]
    x0, y0, x1, y1 = DISTRICT.storage_crs.plausible_bounds
    if not ((x0 < x) & (x < x1) & (y0 < y) & (y < y1)).all():
        crs = DISTRICT.storage_crs.label
        raise CellError(
            f"几何坐标不在{DISTRICT.name_zh} {crs} 范围内",
            f"the geometry is not in {crs} near {DISTRICT.name_en}",
        )
    return shapely.make_valid(geom) if not geom.is_valid else geom
