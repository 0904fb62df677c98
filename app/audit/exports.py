"""An audit search as CSV or XLSX (cells neutralised by analysis.export_cells), Chinese headers."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook

from analysis.export_cells import append_row, csv_text
from app.audit.search import AuditEvent
from layers.district import DISTRICT

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = [
    "记录ID",
    "时间",
    "操作人ID",
    "操作人",
    "操作人单位ID",
    "操作",
    "对象类型",
    "对象标识",
    "变更前",
    "变更后",
    "请求ID",
    "客户端地址",
    "链序号",
    "记录哈希",
]


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def rows_of(events: list[AuditEvent]) -> list[list[Any]]:
    """The events as rows under the headers; times in the district's time zone."""
    rows: list[list[Any]] = [list(HEADERS)]
    for e in events:
        rows.append(
            [
                e.id,
                e.at.astimezone(DISTRICT.tz).isoformat(timespec="microseconds"),
                e.actor_id,
                e.actor_username,
                e.actor_org_id,
                e.action,
                e.object_type,
                e.object_id,
                _json(e.before),
                _json(e.after),
                e.request_id,
                e.client_ip,
                e.chain_seq,
                e.row_hash,
            ]
        )
    return rows


def events_csv(events: list[AuditEvent]) -> bytes:
    """CSV with a byte-order mark, so that Excel reads the Chinese headers as UTF-8."""
    return ("\ufeff" + csv_text(rows_of(events))).encode("utf-8")


def events_xlsx(events: list[AuditEvent]) -> bytes:
    """One sheet, 审计日志."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "审计日志"
    for row in rows_of(events):
        append_row(sheet, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
