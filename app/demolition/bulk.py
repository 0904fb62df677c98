"""Bulk updates from a spreadsheet: a dry run lists every change and every problem; the apply is atomic.

The apply re-checks every row inside one transaction that holds the row locks of the units it touches,
so a unit changed between the dry run and the apply is a stale version, never a lost update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel

from app.auth.deps import Grant
from app.demolition.creation import RowProblem
from app.demolition.disclosure import audit_full_read, disclosure_of
from app.demolition.ledger import (
    UNIT_SELECT,
    apply_changes,
    apply_move,
    subdistrict_id,
    unit_from_row,
    visible_project,
)
from app.demolition.models import TransitionIn, Unit, UnitStatus
from app.demolition.personal import PERSONAL_FIELDS, is_masked, mask_field
from app.demolition.pipeline import check_move
from app.demolition.sheets import BULK_COLUMNS, CellError, convert, read_table, subdistrict_lookup
from app.errors import Conflict, DuoguiError
from layers.audit import record

ATTRIBUTE_KEYS = [
    c.key for c in BULK_COLUMNS if c.key not in ("unit_code", "version", "to_status", "reason", "note")
]


class BulkChange(BaseModel):
    """One field of one unit that the bulk update changes."""

    row: int
    unit_code: str
    unit_id: int
    field: str
    from_value: str | None
    to_value: str | None


class BulkReport(BaseModel):
    """What a bulk update would do (dry run) or did."""

    dry_run: bool
    applied: bool
    rows: int
    units_changed: int
    changes: list[BulkChange]
    problems: list[RowProblem]


@dataclass
class _Planned:
    unit: Unit
    row: int
    attributes: dict[str, Any] = field(default_factory=dict)
    move: TransitionIn | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _units(conn: Connection[Any], project_id: int, lock: bool) -> dict[str, Unit]:
    query = UNIT_SELECT + " WHERE u.project_id = %s ORDER BY u.id" + (" FOR UPDATE OF u" if lock else "")
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["unit_code"]: unit_from_row(r) for r in cur.execute(query, (project_id,)).fetchall()}


def _problem(row: int, code: str | None, kind: str, zh: str, en: str) -> RowProblem:
    return RowProblem(row=row, unit_code=code, code=kind, message_zh=zh, message_en=en)


def plan(
    conn: Connection[Any], project_id: int, rows: list[dict[str, Any]], *, lock: bool
) -> tuple[list[_Planned], list[BulkChange], list[RowProblem]]:
    """Check every row against the ledger: the planned changes and every problem."""
    units = _units(conn, project_id, lock)
    subdistricts = subdistrict_lookup(conn)
    columns = {c.key: c for c in BULK_COLUMNS}
    planned: list[_Planned] = []
    changes: list[BulkChange] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for raw in rows:
        number, code = raw["_row"], str(raw.get("unit_code") or "").strip()
        values: dict[str, Any] = {}
        bad = False
        for key in raw:
            if key in columns and key != "unit_code":
                try:
                    values[key] = convert(columns[key], raw[key], subdistricts, masked_ok=True)
                except CellError as exc:
                    problems.append(_problem(number, code or None, "invalid_cell", exc.zh, exc.en))
                    bad = True
        if not code:
            problems.append(
                _problem(number, None, "missing_unit_code", "缺少单元编号", "unit_code is missing")
            )
            continue
        if code in seen:
            problems.append(
                _problem(
                    number,
                    code,
                    "duplicate_unit_code",
                    f"与第 {seen[code]} 行重复",
                    f"repeats row {seen[code]}",
                )
            )
            continue
        seen[code] = number
        unit = units.get(code)
        if unit is None:
            problems.append(
                _problem(
                    number, code, "unknown_unit", "本项目台账中没有该单元", "no such unit in this project"
                )
            )
            continue
        if values.get("version") is None:
            if not bad:
                problems.append(_problem(number, code, "missing_version", "缺少版本号", "version is missing"))
            continue
        if values["version"] != unit.version:
            problems.append(
                _problem(
                    number,
                    code,
                    "stale_version",
                    f"数据已被修改（当前版本 {unit.version}，表格版本 {values['version']}）",
                    f"stale: the current version is {unit.version}, the sheet has {values['version']}",
                )
            )
            continue
        if bad:
            continue
        item = _plan_row(number, unit, values, subdistricts, changes, problems)
        if item is not None:
            planned.append(item)
    return planned, changes, problems


def _plan_row(
    number: int,
    unit: Unit,
    values: dict[str, Any],
    subdistricts: dict[str, str],
    changes: list[BulkChange],
    problems: list[RowProblem],
) -> _Planned | None:
    item = _Planned(unit, number)
    for key in ATTRIBUTE_KEYS:
        new = values.get(key)
        if new is None:
            continue  # a blank cell leaves the field as it is
        old = unit.subdistrict_code if key == "subdistrict_code" else getattr(unit, key)
        if is_masked(new):
            # A masked export sent back: its own mask of the stored value leaves it as it is.
            if new != mask_field(key, old):
                problems.append(_masked_problem(number, unit.unit_code, key))
            continue
        if _text(old) != _text(new):
            item.attributes[key] = new
            changes.append(
                BulkChange(
                    row=number,
                    unit_code=unit.unit_code,
                    unit_id=unit.id,
                    field=key,
                    from_value=_text(old),
                    to_value=_text(new),
                )
            )
    target: UnitStatus | None = values.get("to_status")
    if target is not None and target is not unit.status:
        try:
            check_move(unit.status, target, values.get("reason"))
        except DuoguiError as exc:
            problems.append(_problem(number, unit.unit_code, exc.code, exc.message_zh, exc.message_en))
            return None
        item.move = TransitionIn(to_status=target, reason=values.get("reason"), note=values.get("note"))
        changes.append(
            BulkChange(
                row=number,
                unit_code=unit.unit_code,
                unit_id=unit.id,
                field="status",
                from_value=unit.status.value,
                to_value=target.value,
            )
        )
    return item if (item.attributes or item.move) else None


def _masked_change(change: BulkChange) -> BulkChange:
    return change.model_copy(
        update={
            "from_value": mask_field(change.field, change.from_value),
            "to_value": mask_field(change.field, change.to_value),
        }
    )


def _shown_changes(
    conn: Connection[Any], grant: Grant, project_id: int, changes: list[BulkChange]
) -> list[BulkChange]:
    """The report's changes of personal values masked unless the caller may see the unit in full."""
    personal = [c for c in changes if c.field in PERSONAL_FIELDS]
    if not personal:
        return changes
    access = disclosure_of(conn, grant)
    streets = dict(
        conn.execute(
            "SELECT id, subdistrict_id FROM demolition.unit WHERE project_id = %s", (project_id,)
        ).fetchall()
    )
    full = {c.unit_id for c in personal if access.full(streets.get(c.unit_id))}
    audit_full_read(conn, grant, project_id, sorted(full), "bulk")
    return [c if c.unit_id in full or c.field not in PERSONAL_FIELDS else _masked_change(c) for c in changes]


def _masked_problem(row: int, code: str, key: str) -> RowProblem:
    return _problem(
        row,
        code,
        "masked_value",
        f"“{key}”是脱敏后的值（含 *）且与现值不符，不能写入",
        f"{key} is a masked value (with *) that does not match the stored one; it cannot be written",
    )


def bulk_update(
    conn: Connection[Any], grant: Grant, project_id: int, data: bytes, filename: str, dry_run: bool
) -> BulkReport:
    """Dry run: the report. Apply: re-check under row locks; any problem → 409 and nothing changes."""
    rows = read_table(data, filename, BULK_COLUMNS)
    with conn.transaction():
        visible_project(conn, grant, project_id)
        planned, changes, problems = plan(conn, project_id, rows, lock=not dry_run)
        report = BulkReport(
            dry_run=dry_run,
            applied=False,
            rows=len(rows),
            units_changed=len(planned),
            changes=_shown_changes(conn, grant, project_id, changes),
            problems=problems,
        )
        if dry_run:
            return report
        if problems:
            raise Conflict(
                f"批量更新有 {len(problems)} 处问题，未做任何修改。",
                f"The bulk update has {len(problems)} problem(s); nothing was changed.",
                code="bulk_refused",
                report=report.model_dump(mode="json"),
            )
        for item in planned:
            if item.attributes:
                attrs = dict(item.attributes)
                if "subdistrict_code" in attrs:
                    attrs["subdistrict_id"] = subdistrict_id(conn, attrs.pop("subdistrict_code"))
                apply_changes(
                    conn,
                    grant.actor,
                    item.unit,
                    {k: _text(v) if k == "owner_type" else v for k, v in attrs.items()},
                    note=f"批量更新第 {item.row} 行",
                )
            if item.move is not None:
                apply_move(conn, grant.actor, item.unit, item.move)
        report.applied = True
        record(
            conn,
            grant.actor,
            "demolition.bulk_update",
            "project",
            project_id,
            after={
                "file": filename,
                "rows": len(rows),
                "changes": [_masked_change(c).model_dump() for c in changes],  # auditors: no need to know
            },
        )
    return report
