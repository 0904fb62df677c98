"""Routes: the base-map layer catalog, layer state and versions, and imports of new versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Query, Request, Response, UploadFile
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from analysis.checkindex import catch_up_later
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import (
    UploadKind,
    catalog_of,
    check_plan_of,
    saved_upload,
    upload_limit,
    visible_entry,
    visible_layers,
)
from app.edge.bbox import BBoxError, BBoxProblem, parse_bbox
from app.edge.params import Number, Offset
from app.errors import NotFound, Unprocessable
from app.projects import map_layer
from layers.catalog.legend import legend
from layers.catalog.model import LayerEntry, LayerKind
from layers.district import DISTRICT, STORAGE_SRID
from layers.ingest.coverage_file import coverage_option
from layers.ingest.geometry_input import storage_domain
from layers.ingest.intake import IntakeLimits
from layers.ingest.load import import_file
from layers.store import versions
from layers.store.coverage import Coverage

router = APIRouter(prefix="/api/layers", tags=["layers"])


class LayerSummary(BaseModel):
    """A layer as listed: catalog metadata plus its stored state."""

    code: str
    name_zh: str
    name_en: str
    group: str
    kind: str
    department: str
    source: str
    scale: str | None
    vintage: date
    stale: bool
    min_zoom: int
    pre_evaluation: bool
    base_map: bool = Field(description="属于底图（首次打开地图时默认显示）")
    restricted: bool
    live: bool = Field(
        default=False, description="实时图层（来自业务数据，如项目库）：无导入版本，当前版本号为数据标记"
    )
    current_version: int | None = Field(description="当前版本号")
    feature_count: int | None
    extent: list[float] | None = Field(description="[minLon, minLat, maxLon, maxLat] (CRS84)")
    updated_at: datetime | None


class VersionSummary(BaseModel):
    """One stored version of a layer."""

    number: int
    current: bool
    created_at: datetime
    created_by_username: str
    source_name: str
    source_sha256: str
    source_size: int
    source_driver: str | None
    source_crs: str | None
    source_encoding: str | None
    feature_count: int
    repaired_count: int
    skipped_count: int
    total_area_m2: float | None
    total_length_m: float | None
    note: str | None
    coverage_source: Literal["district", "catalog", "declared"] = Field(
        description=(
            "数据覆盖范围来源：district 全区（缺省），catalog 图层目录声明的局部调查范围，declared 导入时声明"
        )
    )
    coverage_area_m2: float = Field(description="数据覆盖范围面积（m²）：范围内无要素即“无冲突”")
    coverage: dict[str, Any] = Field(description="数据覆盖范围（GeoJSON MultiPolygon，CRS84）")


class LayerDetail(LayerSummary):
    """A layer with its attribute schema, style and version history."""

    description_zh: str | None
    attributes: list[dict[str, Any]]
    style: dict[str, Any]
    max_age_days: int | None
    versions: list[VersionSummary]


class ImportResult(BaseModel):
    """The outcome of an import: the new version and its full report."""

    layer: str
    version: int
    feature_count: int
    report: dict[str, Any]


# A GeoJSON file with seven decimal places rounds positions by up to ~6 mm here; 1 cm absorbs that
# (and a round trip through another CRS) without hiding a surveyed correction.
DIFF_TOLERANCE_M = 0.01


class VersionDiff(BaseModel):
    """Differences between two versions of a layer."""

    layer: str
    from_version: int
    to_version: int
    added: int
    added_area_m2: float
    removed: int
    removed_area_m2: float
    changed: int
    unchanged: int
    tolerance_m: float
    within_tolerance: int


_STATE_SQL = """
    SELECT l.code, v.number AS current_version, v.feature_count, l.updated_at,
           CASE WHEN v.extent IS NULL THEN NULL ELSE
             ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS extent
    FROM basemap.layer l
    LEFT JOIN basemap.layer_version v ON v.id = l.current_version
    LEFT JOIN LATERAL (SELECT ST_Transform(v.extent, 4326)::box2d AS e) t ON true
    WHERE %(code)s::text IS NULL OR l.code = %(code)s
"""


def _states(conn: Connection[Any], code: str | None = None) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["code"]: r for r in cur.execute(_STATE_SQL, {"code": code}).fetchall()}


def _with_live(
    conn: Connection[Any], grant: Grant, entries: list[LayerEntry], states: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``states`` with each live layer's (the project library as the caller sees it): its mark as the
    current version (it changes with what the caller sees, so the map's tile URLs change), count, extent."""
    for e in entries:
        if e.live == map_layer.LIVE:
            live = map_layer.state(conn, grant)
            states[e.code] = {"current_version": live.mark, "feature_count": live.count, "extent": live.bbox}
    return states


def _summary(entry: LayerEntry, state: dict[str, Any] | None) -> dict[str, Any]:
    state = state or {}
    extent = state.get("extent")
    return {
        "code": entry.code,
        "name_zh": entry.name_zh,
        "name_en": entry.name_en,
        "group": entry.group,
        "kind": entry.kind.value,
        "department": entry.department,
        "source": entry.source,
        "scale": entry.scale,
        "vintage": entry.vintage,
        "stale": entry.is_stale(date.today()),
        "min_zoom": entry.min_zoom,
        "pre_evaluation": entry.pre_evaluation,
        "base_map": entry.base_map,
        "restricted": entry.restricted,
        "live": entry.live is not None,
        "current_version": state.get("current_version"),
        "feature_count": state.get("feature_count"),
        "extent": [round(v, 7) for v in extent] if extent else None,
        "updated_at": state.get("updated_at"),
    }


@router.get("", response_model=list[LayerSummary], summary="图层目录")
def list_layers(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
    group: Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="按图层组筛选，如 07")] = None,
) -> list[dict[str, Any]]:
    """Every layer the caller may see, in catalog order, with its current version and extent."""
    entries = [e for e in visible_layers(request, grant) if group is None or e.group == group]
    states = _with_live(conn, grant, entries, _states(conn))
    return [_summary(e, states.get(e.code)) for e in entries]


class LayerGroupSummary(BaseModel):
    """A thematic group of the catalog, with how many of its layers the caller may see."""

    id: str
    name_zh: str
    name_en: str
    description_zh: str | None
    layers: int


@router.get("/groups", response_model=list[LayerGroupSummary], summary="图层组")
def layer_groups(
    request: Request, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> list[LayerGroupSummary]:
    """The catalog's layer groups in order (the headings of the map's layer tree)."""
    catalog = catalog_of(request)
    counts: dict[str, int] = {}
    for entry in catalog.layers.values():
        if grant.may_see(entry):
            counts[entry.group] = counts.get(entry.group, 0) + 1
    return [
        LayerGroupSummary(
            id=g.id,
            name_zh=g.name_zh,
            name_en=g.name_en,
            description_zh=g.description_zh,
            layers=counts.get(g.id, 0),
        )
        for g in catalog.groups.values()
    ]


@router.get("/legend", response_model=list[dict[str, Any]], summary="图例")
def layer_legend(
    request: Request, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> list[dict[str, Any]]:
    """Legend data of every visible layer: symbol colours, categories with Chinese labels, colour ramps."""
    return legend(visible_layers(request, grant))


@router.get("/{code}", response_model=LayerDetail, summary="图层详情")
def get_layer(
    code: str, request: Request, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> dict[str, Any]:
    """Metadata, attribute schema, style, feature count, extent and version history of one layer."""
    entry = visible_entry(request, grant, code)
    return {
        **_summary(entry, _with_live(conn, grant, [entry], _states(conn, code)).get(code)),
        "description_zh": entry.description_zh,
        "attributes": [a.model_dump(exclude_none=True) for a in entry.attributes],
        "style": entry.style.model_dump(exclude_none=True),
        "max_age_days": entry.max_age_days,
        "versions": versions.list_versions(conn, code),
    }


@router.get("/{code}/versions", response_model=list[VersionSummary], summary="版本历史")
def list_layer_versions(
    code: str, request: Request, conn: Conn, grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
) -> list[dict[str, Any]]:
    """Every stored version of a layer, newest first."""
    visible_entry(request, grant, code)
    return versions.list_versions(conn, code)


@router.get("/{code}/versions/{number}/report", response_model=dict[str, Any], summary="导入报告")
def version_report(
    code: str,
    number: Number,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
) -> dict[str, Any]:
    """The import report of a version: repaired and skipped features, attribute mapping."""
    visible_entry(request, grant, code)
    row = conn.execute(
        "SELECT report FROM basemap.layer_version WHERE layer_code = %s AND number = %s", (code, number)
    ).fetchone()
    if row is None:
        raise NotFound(f"没有第 {number} 版。", f"There is no version {number}.")
    report: dict[str, Any] = row[0]
    return report


@router.get("/{code}/diff", dependencies=[HeavyWork], response_model=VersionDiff, summary="版本比较")
def diff(
    code: str,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
    from_version: Annotated[Number, Query(alias="from", ge=1, description="旧版本号")],
    to_version: Annotated[Number, Query(alias="to", ge=1, description="新版本号")],
    tolerance_m: Annotated[
        float,
        Query(
            ge=0,
            le=10,
            description="几何容差（米）：偏差不超过此值的要素视为几何未变（坐标取舍）；0 为逐坐标比较",
        ),
    ] = DIFF_TOLERANCE_M,
) -> dict[str, Any]:
    """Features added, removed and changed between two versions (geometry within ``tolerance_m``)."""
    visible_entry(request, grant, code)
    return versions.diff_versions(conn, code, from_version, to_version, tolerance_m)


@router.post(
    "/{code}/versions",
    response_model=ImportResult,
    dependencies=[HeavyWork],
    status_code=201,
    summary="导入新版本",
)
def import_version(
    code: str,
    request: Request,
    conn: Conn,
    background: BackgroundTasks,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_IMPORT))],
    file: Annotated[
        UploadFile, File(description="GeoPackage、Shapefile（zip）、GeoJSON、DXF 或 FileGDB（zip）")
    ],
    crs: Annotated[
        str | None, Form(max_length=2000, description=f"文件无坐标系时指定，如 {DISTRICT.storage_crs.label}")
    ] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="属性编码，如 GBK")] = None,
    source_layer: Annotated[str | None, Form(max_length=200, description="多图层文件中的图层名")] = None,
    skip_invalid: Annotated[bool, Form(description="跳过无法修复的要素（逐一列入报告）")] = False,
    note: Annotated[str | None, Form(max_length=2000, description="版本说明")] = None,
    coverage: Annotated[
        str | None,
        Form(max_length=40, description="数据覆盖范围：district（全区）；缺省为图层目录的声明或全区"),
    ] = None,
    coverage_file: Annotated[
        UploadFile | None, File(description="数据覆盖范围文件（面，局部调查时）：范围外的用地无法评价")
    ] = None,
) -> ImportResult:
    """Upload a file as the layer's new current version (atomic; the old version stays intact on error)."""
    entry = visible_entry(request, grant, code)
    limits = IntakeLimits(max_upload_bytes=upload_limit(request))
    with saved_upload(request, file, UploadKind.LAYER) as upload:
        options: dict[str, Any] = {
            "crs": crs,
            "note": note,
            "coverage": _coverage(request, coverage, coverage_file),
        }
        if entry.kind is not LayerKind.RASTER:
            options.update(
                encoding=encoding, source_layer=source_layer, skip_invalid=skip_invalid, limits=limits
            )
        number, count, report = import_file(
            conn, entry, upload.path, upload.name, grant.actor, request.app.state.settings.data_dir, **options
        )
    _catch_up_after_response(request, background, code)
    return ImportResult(layer=code, version=number, feature_count=count, report=report)


@router.post("/{code}/rollback", response_model=LayerSummary, summary="回退到指定版本")
def rollback_layer(
    code: str,
    request: Request,
    conn: Conn,
    background: BackgroundTasks,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_IMPORT))],
    version: Annotated[Number, Query(ge=1, description="要恢复为当前版本的版本号")],
) -> dict[str, Any]:
    """Make an older version current again (audited)."""
    entry = visible_entry(request, grant, code)
    versions.rollback(conn, entry, version, grant.actor)
    _catch_up_after_response(request, background, code)
    return _summary(entry, _states(conn, code).get(code))


def _coverage(request: Request, keyword: str | None, file: UploadFile | None) -> Coverage | None:
    """The coverage an import asks for (read, and refused when bad, before anything is written)."""
    if file is None:
        return coverage_option(keyword)
    with saved_upload(request, file, UploadKind.FOOTPRINT) as saved:
        limits = IntakeLimits(max_upload_bytes=upload_limit(request, UploadKind.FOOTPRINT))
        return coverage_option(keyword, saved.path, saved.name, limits=limits)


def _catch_up_after_response(request: Request, background: BackgroundTasks, code: str) -> None:
    """Refresh the footprint-check index for a switched layer once the response is sent."""
    background.add_task(catch_up_later, request.app.state.pool, check_plan_of(request), [code])


GEOJSON = "application/geo+json"


@router.get(
    "/{code}/features",
    summary="要素查询（GeoJSON，CRS84）",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection"}},
)
def features(
    code: str,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.LAYERS_READ))],
    version: Annotated[Number | None, Query(ge=1, description="版本号，缺省为当前版本")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat（CRS84）")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[Offset, Query()] = 0,
) -> Response:
    """Features of the current or an older version as GeoJSON in CRS84, optionally within a bbox."""
    visible_entry(request, grant, code)
    vid = versions.version_id(conn, code, version)
    if vid is None:
        what = f"第 {version} 版" if version else "当前版本"
        raise NotFound(f"图层“{code}”没有{what}。", f"Layer '{code}' has no such version.")
    env = _bbox(bbox)
    if env is None:
        return Response(
            '{"type": "FeatureCollection", "features": [], "numberReturned": 0}', media_type=GEOJSON
        )
    row = conn.execute(
        """
        SELECT json_build_object(
          'type', 'FeatureCollection',
          'features', coalesce(json_agg(json_build_object(
             'type', 'Feature', 'id', fid,
             'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json,
             'properties', props || coalesce(extra, '{}'::jsonb)) ORDER BY fid), '[]'::json),
          'numberReturned', count(*))::text
        FROM (
          SELECT fid, geom, props, extra FROM basemap.feature
          WHERE version_id = %(v)s
            AND (%(x0)s::float8 IS NULL OR geom && ST_Transform(
                   ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326), %(srid)s))
          ORDER BY fid LIMIT %(limit)s OFFSET %(offset)s
        ) f
        """,
        {"v": vid, "limit": limit, "offset": offset, "srid": STORAGE_SRID, **env},
    ).fetchone()
    return Response(row[0] if row else "{}", media_type=GEOJSON)


def _bbox(text: str | None) -> dict[str, float | None] | None:
    """The bbox's bounds within the storage CRS's domain (all None without a bbox; None outside it)."""
    if text is None:
        return {"x0": None, "y0": None, "x1": None, "y1": None}
    try:
        x0, y0, x1, y1 = parse_bbox(text, allow_empty=False)
    except BBoxError as exc:
        if exc.problem is BBoxProblem.NUMBERS:
            raise Unprocessable(
                "bbox 应为 minLon,minLat,maxLon,maxLat 四个数。", "bbox must be minLon,minLat,maxLon,maxLat."
            ) from None
        raise Unprocessable(
            "bbox 超出经纬度范围或顺序错误。", "bbox is out of range or not min-before-max."
        ) from None
    # Only the part where the storage CRS is defined can be projected (every feature lies inside it);
    # projecting the rest gives garbage (a whole-world bbox used to select nothing).
    west, south, east, north = storage_domain()
    x0, y0, x1, y1 = max(x0, west), max(y0, south), min(x1, east), min(y1, north)
    if x0 > x1 or y0 > y1:
        return None  # no overlap: no feature can be inside
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
