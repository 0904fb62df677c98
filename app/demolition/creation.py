"""Creating ledger units: from a stored pre-evaluation, from a spreadsheet, from a GIS file.

Imports are all-or-nothing: every row is checked first and any problem refuses the whole file (422 with
every problem listed); nothing is written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg import Connection
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.demolition.ledger import insert_unit, visible_project
from app.demolition.models import UnitSource
from app.demolition.sheets import (
    COLUMNS,
    CellError,
    Column,
    column_aliases,
    convert,
    read_table,
    subdistrict_lookup,
)
from app.errors import NotFound, Unprocessable
from app.preevaluation.store import fetch_document
from layers.audit import record
from layers.catalog.model import get_catalog
from layers.ingest.crs import check_in_district, resolve_crs, transformer_to_storage
from layers.ingest.geometry_input import check_finite, check_geojson_file
from layers.ingest.intake import IntakeLimits, open_upload
from layers.ingest.load import read_shapes

BUILDING_RULE = "cur_building.demolition"
# A GIS file read from the command line; uploads pass the service's configured limit instead.
MAX_GIS_BYTES = 100 * 1024 * 1024
OWNERSHIP = {"10": "state", "30": "collective"}


class RowProblem(BaseModel):
    """One problem of an imported or bulk-updated row."""

    row: int | None
    unit_code: str | None
    code: str
    message_zh: str
    message_en: str


class CreationReport(BaseModel):
    """What a creation path did."""

    source: UnitSource
    created: int
    unit_codes: list[str]
    skipped: list[str] = Field(description="已在台账中（按单元编号）而未再建的单元")
    households: int = Field(default=0, description="新建单元的户数合计")
    floor_area_m2: float = Field(default=0, description="新建单元的建筑面积合计（m²）")


def _refuse(problems: list[RowProblem]) -> Unprocessable:
    first = problems[0]
    return Unprocessable(
        f"共 {len(problems)} 处问题，未导入任何单元。首个问题：第 {first.row} 行 {first.message_zh}",
        f"{len(problems)} problem(s); nothing was imported. First: row {first.row}: {first.message_en}",
        code="import_refused",
        problems=[p.model_dump() for p in problems],
    )


def _layer_version(conn: Connection[Any], code: str, number: int | None) -> tuple[int, int] | None:
    """(version id, number) of ``code`` at ``number`` if it still exists, else of the current version."""
    row = conn.execute(
        "SELECT v.id, v.number FROM basemap.layer_version v WHERE v.layer_code = %(c)s AND v.number = %(n)s"
        " UNION ALL SELECT v.id, v.number FROM basemap.layer l JOIN basemap.layer_version v"
        " ON v.id = l.current_version WHERE l.code = %(c)s LIMIT 1",
        {"c": code, "n": number},
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def from_pre_evaluation(
    conn: Connection[Any], grant: Grant, project_id: int, pre_evaluation_id: int
) -> CreationReport:
    """One unit per building the stored report found inside the footprint (rule cur_building.demolition)."""
    stored = fetch_document(conn, pre_evaluation_id)
    if stored is None:
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    report = stored.report
    finding = next((f for f in report.get("findings", []) if f.get("rule_id") == BUILDING_RULE), None)
    fids = sorted({int(h["fid"]) for h in (finding or {}).get("features", [])})
    with conn.transaction():
        visible_project(conn, grant, project_id)
        version = _layer_version(conn, "cur_building", report.get("layer_versions", {}).get("cur_building"))
        if fids and version is None:
            raise Unprocessable("底图缺少建筑物图层。", "The base map has no cur_building layer.")
        own = _layer_version(conn, "cur_ownership", None)
        sd = _layer_version(conn, "admin_subdistrict", None)
        rows = conn.execute(
            """
            SELECT b.fid, b.props, ST_AsBinary(b.geom),
              (SELECT o.props ->> 'ownership' FROM basemap.feature o WHERE o.version_id = %(own)s
                 AND ST_Intersects(o.geom, ST_PointOnSurface(b.geom)) LIMIT 1),
              (SELECT s.props ->> 'subdistrict' FROM basemap.feature s WHERE s.version_id = %(sd)s
                 AND ST_Intersects(s.geom, ST_PointOnSurface(b.geom)) LIMIT 1)
            FROM basemap.feature b WHERE b.version_id = %(bv)s AND b.fid = ANY(%(fids)s) ORDER BY b.fid
            """,
            {
                "own": own[0] if own else -1,
                "sd": sd[0] if sd else -1,
                "bv": version[0] if version else -1,
                "fids": fids,
            },
        ).fetchall()
        missing = set(fids) - {r[0] for r in rows}
        if missing:
            raise Unprocessable(
                f"报告中的 {len(missing)} 栋建筑在底图中已不存在，请重新预评价。",
                f"{len(missing)} building(s) of the report are no longer in the base map; re-run the check.",
                code="stale_report",
                missing_fids=sorted(missing),
            )
        subdistricts = subdistrict_lookup(conn)
        existing = _existing_codes(conn, project_id)
        created, skipped = [], []
        households, floor_area = 0, 0.0
        for fid, props, wkb, ownership, subdistrict in rows:
            code = str(props.get("building_code") or f"cur_building-{fid}")
            if code in existing:
                skipped.append(code)
                continue
            area, count = _number(props.get("floor_area")), int(_number(props.get("households")))
            fields = {
                "floor_area_m2": area,
                "households": count,
                "owner_type": OWNERSHIP.get(str(ownership)) if ownership else None,
                "subdistrict_id": _org_id(conn, subdistricts.get(str(subdistrict).lower()))
                if subdistrict
                else None,
            }
            ref = {"pre_evaluation_id": pre_evaluation_id, "layer": "cur_building", "fid": fid}
            ref["layer_version"] = version[1] if version else None
            insert_unit(
                conn,
                grant.actor,
                project_id,
                code,
                fields,
                shapely.from_wkb(wkb),
                UnitSource.PRE_EVALUATION,
                ref,
            )
            existing.add(code)
            created.append(code)
            households += count
            floor_area += area
        result = CreationReport(
            source=UnitSource.PRE_EVALUATION,
            created=len(created),
            unit_codes=created,
            skipped=skipped,
            households=households,
            floor_area_m2=round(floor_area, 2),
        )
        record(
            conn,
            grant.actor,
            "demolition.unit.import",
            "project",
            project_id,
            after={**result.model_dump(mode="json"), "pre_evaluation_id": pre_evaluation_id},
        )
    return result


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _org_id(conn: Connection[Any], code: str | None) -> int | None:
    if code is None:
        return None
    row = conn.execute("SELECT id FROM auth.organisation WHERE code = %s", (code,)).fetchone()
    return int(row[0]) if row else None


def _existing_codes(conn: Connection[Any], project_id: int) -> set[str]:
    return {
        r[0]
        for r in conn.execute("SELECT unit_code FROM demolition.unit WHERE project_id = %s", (project_id,))
    }


def check_rows(
    conn: Connection[Any], project_id: int, rows: list[dict[str, Any]], columns: list[Column]
) -> tuple[list[tuple[int, str, dict[str, Any], Any]], list[RowProblem]]:
    """Convert every row; collect every problem (bad cell, missing or duplicate code, code taken)."""
    subdistricts = subdistrict_lookup(conn)
    existing = _existing_codes(conn, project_id)
    seen: dict[str, int] = {}
    good, problems = [], []
    for raw in rows:
        number, code = raw["_row"], str(raw.get("unit_code") or "").strip()
        fields: dict[str, Any] = {}
        bad = False
        for column in columns:
            if column.key not in raw or column.key == "unit_code":
                continue
            try:
                fields[column.key] = convert(column, raw[column.key], subdistricts)
            except CellError as exc:
                problems.append(
                    RowProblem(
                        row=number,
                        unit_code=code or None,
                        code="invalid_cell",
                        message_zh=exc.zh,
                        message_en=exc.en,
                    )
                )
                bad = True
        if not code or len(code) > 64:
            problems.append(
                RowProblem(
                    row=number,
                    unit_code=None,
                    code="missing_unit_code",
                    message_zh="缺少单元编号（或超过 64 字）",
                    message_en="unit_code is missing (or longer than 64)",
                )
            )
            continue
        if code in seen:
            problems.append(
                RowProblem(
                    row=number,
                    unit_code=code,
                    code="duplicate_unit_code",
                    message_zh=f"单元编号与第 {seen[code]} 行重复",
                    message_en=f"unit_code repeats row {seen[code]}",
                )
            )
            continue
        seen[code] = number
        if code in existing:
            problems.append(
                RowProblem(
                    row=number,
                    unit_code=code,
                    code="unit_code_taken",
                    message_zh="单元编号在本项目中已存在",
                    message_en="unit_code already exists in this project",
                )
            )
            continue
        if not bad:
            fields["subdistrict_id"] = _org_id(conn, fields.pop("subdistrict_code", None))
            good.append((number, code, fields, raw.get("_geometry", fields.pop("wkt", None))))
    return good, problems


def import_rows(
    conn: Connection[Any], grant: Grant, project_id: int, rows: list[dict[str, Any]], source: UnitSource
) -> CreationReport:
    """Insert every row as a unit, or none of them when any row has a problem."""
    with conn.transaction():
        visible_project(conn, grant, project_id)
        good, problems = check_rows(conn, project_id, rows, COLUMNS)
        if problems:
            raise _refuse(problems)
        for number, code, fields, geom in good:
            insert_unit(conn, grant.actor, project_id, code, fields, geom, source, {"row": number})
        result = CreationReport(
            source=source,
            created=len(good),
            unit_codes=[g[1] for g in good],
            skipped=[],
            households=sum(int(g[2].get("households") or 0) for g in good),
            floor_area_m2=round(sum(float(g[2].get("floor_area_m2") or 0) for g in good), 2),
        )
        record(
            conn,
            grant.actor,
            "demolition.unit.import",
            "project",
            project_id,
            after=result.model_dump(mode="json"),
        )
    return result


def import_sheet(
    conn: Connection[Any], grant: Grant, project_id: int, data: bytes, filename: str
) -> CreationReport:
    """Units from an XLSX/CSV file in the template's columns."""
    return import_rows(conn, grant, project_id, read_table(data, filename, COLUMNS), UnitSource.SPREADSHEET)


def gis_rows(
    upload: Path, filename: str, crs: str | None, workdir: Path, max_bytes: int = MAX_GIS_BYTES
) -> list[dict[str, Any]]:
    """Features of a GIS file as template rows (attributes by template keys or headers), with geometry."""
    source = open_upload(upload, filename, workdir, limits=IntakeLimits(max_upload_bytes=max_bytes))
    source_crs = resolve_crs(source.crs, crs)
    if source.driver == "GeoJSON":
        check_geojson_file(source.path, filename, max_numbers=4)
    geoms, attributes, _ = read_shapes(source, get_catalog().layers["cur_building"])
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if present.any():
        check_in_district(tuple(shapely.total_bounds(geoms[present])), source_crs)
    transformer = transformer_to_storage(source_crs)
    aliases = column_aliases(COLUMNS)
    keys = {col: aliases.get(str(col).strip().lower()) for col in attributes.columns}
    rows = []
    for i, geom in enumerate(geoms):
        raw: dict[str, Any] = {k: attributes.iloc[i][col] for col, k in keys.items() if k}
        raw = {k: (None if _blank(v) else v) for k, v in raw.items()}
        raw["_row"] = i + 1
        if present[i]:
            moved = shapely.transform(
                geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
            )
            check_finite(moved, f"{filename}.features[{i}]")
            raw["_geometry"] = shapely.make_valid(moved) if not moved.is_valid else moved
        rows.append(raw)
    return rows


def _blank(value: Any) -> bool:
    try:
        return value is None or bool(np.isnan(value))
    except TypeError:
        return False


def import_gis(
    conn: Connection[Any],
    grant: Grant,
    project_id: int,
    upload: Path,
    filename: str,
    crs: str | None,
    max_bytes: int = MAX_GIS_BYTES,
) -> CreationReport:
    """Units from a GeoPackage, zipped Shapefile, GeoJSON, DXF or zipped FileGDB (read with layers/ingest)."""
    with tempfile.TemporaryDirectory(prefix="demolition-gis-") as work:
        rows = gis_rows(upload, filename, crs, Path(work), max_bytes)
    return import_rows(conn, grant, project_id, rows, UnitSource.GIS)
