"""The ledger (一户一档): reading units, entering them, versioned changes and status transitions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import shapely
from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from analysis.footprint import parse_footprint
from app.auth.deps import Grant
from app.auth.users import ACTOR_DISPLAY_NAME, JOIN_ACTOR
from app.demolition.disclosure import audit_full_read, disclosure_of, masked_dict
from app.demolition.models import (
    STATUS_LABELS,
    TransitionIn,
    Unit,
    UnitCreate,
    UnitEvent,
    UnitFields,
    UnitSource,
    UnitStatus,
    UnitUpdate,
)
from app.demolition.personal import PERSONAL_FIELDS, mask_field
from app.demolition.pipeline import check_move
from app.errors import Conflict, NotFound, Unprocessable
from app.materials.access import may_read
from app.projects.models import Project
from app.projects.service import fetch_project
from app.versioning import check_version
from layers.audit import Actor, record
from layers.district import STORAGE_SRID

UNIT_SELECT = """
    SELECT u.id, u.project_id, u.unit_code, u.address, u.owner_type, u.owner_name, u.id_number, u.phone,
           u.floor_area_m2,
           u.households, u.valuation_yuan, u.agreed_compensation_yuan, u.paid_compensation_yuan,
           u.subdistrict_id, o.code AS subdistrict_code, u.status, u.source, u.source_ref,
           ST_AsGeoJSON(ST_Transform(u.geom, 4326), 7)::json AS geometry, u.created_at, u.updated_at,
           u.version
    FROM demolition.unit u LEFT JOIN auth.organisation o ON o.id = u.subdistrict_id
"""
# Attribute columns a coordinator may change (subdistrict_code is resolved to subdistrict_id).
ATTRIBUTE_COLUMNS = (
    "address",
    "owner_type",
    "owner_name",
    "id_number",
    "phone",
    "floor_area_m2",
    "households",
    "valuation_yuan",
    "agreed_compensation_yuan",
    "paid_compensation_yuan",
)


def unit_from_row(row: dict[str, Any]) -> Unit:
    """A unit from a row of ``UNIT_SELECT``."""
    return Unit(**row, status_zh=STATUS_LABELS[UnitStatus(row["status"])][0])


def visible_project(conn: Connection[Any], grant: Grant, project_id: int) -> Project:
    """The project if the caller may see it (units: own projects; departments: projects involving them)."""
    return fetch_project(conn, project_id, grant)


def fetch_unit(conn: Connection[Any], unit_id: int, grant: Grant | None = None) -> Unit:
    """One unit, or 404 (also when ``grant`` may not see its project)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(UNIT_SELECT + " WHERE u.id = %s", (unit_id,)).fetchone()
    if row is None:
        raise NotFound("征拆单元不存在。", "No such demolition unit.")
    if grant is not None:
        try:
            visible_project(conn, grant, row["project_id"])
        except NotFound as exc:
            raise NotFound("征拆单元不存在。", "No such demolition unit.") from exc
    return unit_from_row(row)


def list_units(
    conn: Connection[Any], grant: Grant, project_id: int, status: UnitStatus | None = None
) -> list[Unit]:
    """The project's units in code order."""
    visible_project(conn, grant, project_id)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            UNIT_SELECT + " WHERE u.project_id = %(p)s AND (%(s)s::text IS NULL OR u.status = %(s)s)"
            " ORDER BY u.unit_code",
            {"p": project_id, "s": status},
        ).fetchall()
    return [unit_from_row(r) for r in rows]


def subdistrict_id(conn: Connection[Any], code: str | None) -> int | None:
    """The organisation id of a sub-district code (``sd-pinghu``); 422 when it is not one."""
    if code is None:
        return None
    row = conn.execute(
        "SELECT id FROM auth.organisation WHERE code = %s AND kind = 'subdistrict'", (code,)
    ).fetchone()
    if row is None:
        raise Unprocessable(
            f"责任街道“{code}”不存在。", f"No such sub-district: '{code}'.", code="unknown_subdistrict"
        )
    return int(row[0])


def add_event(
    conn: Connection[Any],
    actor: Actor,
    unit_id: int,
    project_id: int,
    kind: str,
    to_status: UnitStatus,
    *,
    from_status: UnitStatus | None = None,
    irregular: bool = False,
    reason: str | None = None,
    note: str | None = None,
    attachment: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the unit event log."""
    conn.execute(
        "INSERT INTO demolition.unit_event (unit_id, project_id, kind, from_status, to_status, irregular,"
        " reason, note, attachment, changes, actor_id, actor_name, actor_org_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            unit_id,
            project_id,
            kind,
            from_status.value if from_status else None,
            to_status.value,
            irregular,
            reason,
            note,
            Jsonb(attachment) if attachment else None,
            Jsonb(changes) if changes else None,
            actor.user_id,
            actor.username,
            actor.org_id,
        ),
    )


def insert_unit(
    conn: Connection[Any],
    actor: Actor,
    project_id: int,
    unit_code: str,
    fields: dict[str, Any],
    geom: shapely.Geometry | None,
    source: UnitSource,
    source_ref: dict[str, Any] | None = None,
) -> int:
    """Insert one unit (status 调查) with its creation event; 409 when its code is taken in the project."""
    taken = conn.execute(
        "SELECT 1 FROM demolition.unit WHERE project_id = %s AND unit_code = %s", (project_id, unit_code)
    ).fetchone()
    if taken:
        raise Conflict(
            f"单元编号“{unit_code}”在本项目中已存在。",
            f"Unit code '{unit_code}' already exists in this project.",
            code="unit_code_taken",
        )
    values: dict[str, Any] = {k: fields.get(k) for k in ATTRIBUTE_COLUMNS}
    values["floor_area_m2"] = values["floor_area_m2"] or Decimal(0)
    values["households"] = values["households"] or 0
    try:
        row = _insert(conn, actor, project_id, unit_code, values, fields, geom, source, source_ref)
    except psycopg.errors.UniqueViolation as exc:  # a concurrent insert of the same code
        raise Conflict(
            f"单元编号“{unit_code}”在本项目中已存在。",
            f"Unit code '{unit_code}' already exists in this project.",
            code="unit_code_taken",
        ) from exc
    add_event(conn, actor, row, project_id, "create", UnitStatus.SURVEYED)
    return row


def _insert(
    conn: Connection[Any],
    actor: Actor,
    project_id: int,
    unit_code: str,
    values: dict[str, Any],
    fields: dict[str, Any],
    geom: shapely.Geometry | None,
    source: UnitSource,
    source_ref: dict[str, Any] | None,
) -> int:
    row = conn.execute(
        sql.SQL(
            "INSERT INTO demolition.unit (project_id, unit_code, {cols}, subdistrict_id, source, source_ref,"
            " geom, created_by_id) VALUES (%(project_id)s, %(unit_code)s, {vals}, %(sd)s, %(source)s,"
            " %(ref)s, ST_GeomFromWKB(%(geom)s, {srid}), %(by)s) RETURNING id"
        ).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, ATTRIBUTE_COLUMNS)),
            vals=sql.SQL(", ").join(map(sql.Placeholder, ATTRIBUTE_COLUMNS)),
            srid=sql.Literal(STORAGE_SRID),
        ),
        {
            **{k: getattr(v, "value", v) for k, v in values.items()},
            "project_id": project_id,
            "unit_code": unit_code,
            "sd": fields.get("subdistrict_id"),
            "source": source.value,
            "ref": Jsonb(source_ref) if source_ref else None,
            "geom": shapely.to_wkb(geom) if geom is not None else None,
            "by": actor.user_id,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])


def create_unit(conn: Connection[Any], grant: Grant, project_id: int, data: UnitCreate) -> Unit:
    """Enter one unit by hand."""
    geom = parse_footprint(data.geometry, data.crs).geometry if data.geometry else None
    with conn.transaction():
        visible_project(conn, grant, project_id)
        fields = data.model_dump(exclude={"unit_code", "geometry", "crs"})
        fields["subdistrict_id"] = subdistrict_id(conn, data.subdistrict_code)
        unit_id = insert_unit(conn, grant.actor, project_id, data.unit_code, fields, geom, UnitSource.MANUAL)
        unit = fetch_unit(conn, unit_id)
        record(conn, grant.actor, "demolition.unit.create", "demolition_unit", unit_id, after=_audit(unit))
    return unit


def _audit(unit: Unit) -> dict[str, Any]:
    # The audit log is read by auditors, who have no need to know residents: personal values masked
    # (the unit's own event log keeps them, under the ledger's need to know).
    return masked_dict(unit.model_dump(mode="json", exclude={"geometry"}))


def _current(conn: Connection[Any], grant: Grant, unit: Unit) -> dict[str, Any]:
    """The state a stale change is answered with, masked unless the caller may see it in full."""
    state = unit.model_dump(mode="json")
    return state if disclosure_of(conn, grant).full(unit.subdistrict_id) else masked_dict(state)


def lock_unit(conn: Connection[Any], grant: Grant, unit_id: int) -> Unit:
    """The unit, row-locked for the rest of the transaction (concurrent updaters queue here)."""
    conn.execute("SELECT 1 FROM demolition.unit WHERE id = %s FOR UPDATE", (unit_id,))
    return fetch_unit(conn, unit_id, grant)


def attribute_changes(conn: Connection[Any], before: Unit, data: UnitFields) -> dict[str, Any]:
    """Column → new value for what ``data`` really changes (sub-district resolved to its id)."""
    given = data.model_dump(exclude_unset=True, exclude={"version"})
    changes: dict[str, Any] = {}
    for key, value in given.items():
        if value is None and key in ("floor_area_m2", "households"):
            raise Unprocessable(
                f"“{key}”不能为空（可填 0）。", f"'{key}' cannot be empty (send 0).", code="required_field"
            )
        if key == "subdistrict_code":
            new_id = subdistrict_id(conn, value)
            if new_id != before.subdistrict_id:
                changes["subdistrict_id"] = new_id
        elif getattr(before, key) != value:
            changes[key] = getattr(value, "value", value)
    return changes


def apply_changes(
    conn: Connection[Any], actor: Actor, before: Unit, changes: dict[str, Any], note: str | None = None
) -> None:
    """Write attribute changes (version + 1) and their event."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
    )
    conn.execute(
        sql.SQL(
            "UPDATE demolition.unit SET {a}, version = version + 1, updated_at = now() WHERE id = %(id)s"
        ).format(a=assignments),
        {**changes, "id": before.id},
    )
    shown = {k: {"from": _plain(getattr(before, k)), "to": _plain(v)} for k, v in changes.items()}
    add_event(conn, actor, before.id, before.project_id, "update", before.status, changes=shown, note=note)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return getattr(value, "value", value)


def update_unit(
    conn: Connection[Any], grant: Grant, unit_id: int, data: UnitUpdate, expected: int, from_header: bool
) -> Unit:
    """Change a unit's attributes; a stale version is refused with the current state."""
    with conn.transaction():
        before = lock_unit(conn, grant, unit_id)
        check_version(before.version, expected, from_header, _current(conn, grant, before))
        changes = attribute_changes(conn, before, data)
        if not changes:
            return before
        apply_changes(conn, grant.actor, before, changes)
        after = fetch_unit(conn, unit_id)
        record(
            conn,
            grant.actor,
            "demolition.unit.update",
            "demolition_unit",
            unit_id,
            _audit(before),
            _audit(after),
        )
    return after


def stored_attachment(
    conn: Connection[Any], grant: Grant, project_id: int, data: TransitionIn
) -> dict[str, Any] | None:
    """The transition's attachment as the materials store has it: a demolition material of the unit's
    project that the caller may read; 422 for anything else (another project's, an application's, unknown)."""
    if data.attachment is None:
        return None
    material_id = data.attachment.material_id
    row = conn.execute(
        "SELECT file_name, size, sha256, media_type FROM material.material"
        " WHERE id = %s AND purpose = 'demolition' AND project_id = %s",
        (material_id, project_id),
    ).fetchone()
    if row is None or not may_read(conn, grant, material_id):
        raise Unprocessable(
            f"附件 {material_id} 不是本项目已上传的征拆材料，请先作为征拆材料上传。",
            f"Attachment {material_id} is not a demolition material of this project; upload it first "
            "as a demolition material.",
            code="unknown_attachment",
        )
    name, size, sha256, media_type = row
    return {
        "material_id": material_id,
        "name": name,
        "size": size,
        "sha256": sha256,
        "media_type": media_type,
    }


def apply_move(
    conn: Connection[Any],
    actor: Actor,
    before: Unit,
    data: TransitionIn,
    attachment: dict[str, Any] | None = None,
) -> None:
    """Move a (locked, version-checked) unit to ``data.to_status`` and log the transition (with the
    attachment resolved by :func:`stored_attachment`)."""
    move = check_move(before.status, data.to_status, data.reason)
    conn.execute(
        "UPDATE demolition.unit SET status = %s, version = version + 1, updated_at = now() WHERE id = %s",
        (data.to_status.value, before.id),
    )
    add_event(
        conn,
        actor,
        before.id,
        before.project_id,
        "transition",
        move.to_status,
        from_status=move.from_status,
        irregular=move.irregular,
        reason=data.reason if move.irregular else (data.reason or None),
        note=data.note,
        attachment=attachment,
    )


def transition_unit(
    conn: Connection[Any], grant: Grant, unit_id: int, data: TransitionIn, expected: int, from_header: bool
) -> Unit:
    """Move a unit along the pipeline (versioned; skips and steps back need a reason)."""
    with conn.transaction():
        before = lock_unit(conn, grant, unit_id)
        check_version(before.version, expected, from_header, _current(conn, grant, before))
        attachment = stored_attachment(conn, grant, before.project_id, data)
        apply_move(conn, grant.actor, before, data, attachment)
        after = fetch_unit(conn, unit_id)
        record(
            conn,
            grant.actor,
            "demolition.unit.transition",
            "demolition_unit",
            unit_id,
            before={"status": before.status.value, "version": before.version},
            after={
                "status": after.status.value,
                "version": after.version,
                "reason": data.reason,
                "note": data.note,
                "attachment": attachment,
            },
        )
    return after


def unit_events(conn: Connection[Any], grant: Grant, unit_id: int) -> list[UnitEvent]:
    """A unit's event log, oldest first; changes of personal values masked unless the caller may see them."""
    unit = fetch_unit(conn, unit_id, grant)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT e.id, e.unit_id, e.kind, e.from_status, e.to_status, e.irregular, e.reason, e.note,"
            " e.attachment, e.changes, e.actor_name, " + ACTOR_DISPLAY_NAME + ", e.at"
            " FROM demolition.unit_event e " + JOIN_ACTOR + " WHERE e.unit_id = %s ORDER BY e.at, e.id",
            (unit_id,),
        ).fetchall()
    events = [UnitEvent(**r) for r in rows]
    personal = {e.id for e in events if e.changes and PERSONAL_FIELDS.keys() & e.changes.keys()}
    if not personal:
        return events
    if disclosure_of(conn, grant).full(unit.subdistrict_id):
        audit_full_read(conn, grant, unit.project_id, [unit.id], "events")
        return events
    return [_masked_event(e) if e.id in personal else e for e in events]


def _masked_event(event: UnitEvent) -> UnitEvent:
    changes = {
        k: {side: mask_field(k, v) for side, v in change.items()} if k in PERSONAL_FIELDS else change
        for k, change in (event.changes or {}).items()
    }
    return event.model_copy(update={"changes": changes})


def ledger_mark(conn: Connection[Any], project_id: int) -> int:
    """The id of the project's last ledger event (0 when none): it changes with every unit change."""
    row = conn.execute(
        "SELECT coalesce(max(id), 0) FROM demolition.unit_event WHERE project_id = %s", (project_id,)
    ).fetchone()
    return int(row[0]) if row else 0
