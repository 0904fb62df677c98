"""Routes: footprints uploaded as files (zipped Shapefile, GeoPackage, GeoJSON, DXF) via the layer intake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from analysis.engine import evaluate
from analysis.footprint import parse_footprint
from analysis.sites import SiteInput, sites_from_features
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.deps import UploadKind, check_plan_of, saved_upload, scratch_dir, upload_limit
from app.preevaluation.sites import (
    BatchResult,
    CheckOptions,
    Comparison,
    batch_of,
    check_candidate_count,
    compare_of,
    ruleset_for,
)
from app.preevaluation.store import StoredReport, store_report_audited
from layers.district import DISTRICT
from layers.ingest.footprint_file import FileFootprint, as_feature_collection, read_footprint_file
from layers.ingest.intake import IntakeLimits

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])

FileField = Annotated[UploadFile, File(description="Shapefile（zip）、GeoPackage、GeoJSON 或 DXF")]
ProjectType = Annotated[str, Form(max_length=64, description="项目类型，如 school、road、housing")]
Crs = Annotated[
    str | None,
    Form(max_length=2000, description=f"文件无坐标系时指定（DXF 必填），如 {DISTRICT.storage_crs.label}"),
]
Encoding = Annotated[str | None, Form(max_length=40, description="属性编码，如 GBK")]
SourceLayer = Annotated[str | None, Form(max_length=200, description="多图层文件中的图层名")]
ProjectCode = Annotated[str | None, Form(max_length=64, description="项目代码（可选）")]
Flags = Annotated[str | None, Form(max_length=500, description="项目属性，逗号分隔，如 national_major")]


def _read(
    request: Request, file: UploadFile, crs: str | None, encoding: str | None, source_layer: str | None
) -> list[FileFootprint]:
    """Save the upload privately and read its features through the layer intake (4xx on a bad file)."""
    limit = upload_limit(request, UploadKind.FOOTPRINT)
    with saved_upload(request, file, UploadKind.FOOTPRINT) as upload:
        return read_footprint_file(
            upload.path,
            upload.name,
            crs=crs,
            encoding=encoding,
            source_layer=source_layer,
            limits=IntakeLimits(max_upload_bytes=limit),
            workdir=scratch_dir(request),
        )


def _options(project_type: str, project_code: str | None, flags: str | None) -> CheckOptions:
    listed = [f.strip() for f in (flags or "").split(",") if f.strip()]
    # crs stays None: the reader hands over CRS84 coordinates, whatever the file's own CRS was.
    return CheckOptions(project_type=project_type, crs=None, flags=listed, project_code=project_code)


@router.post(
    "/upload",
    dependencies=[HeavyWork],
    response_model=StoredReport,
    status_code=201,
    summary="上传用地范围文件预评价",
)
def upload_pre_evaluation(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    file: FileField,
    project_type: ProjectType,
    crs: Crs = None,
    encoding: Encoding = None,
    source_layer: SourceLayer = None,
    project_code: ProjectCode = None,
    flags: Flags = None,
) -> StoredReport:
    """All polygons of the file form one footprint, checked and stored like ``POST /api/pre-evaluations``."""
    options = _options(project_type, project_code, flags)
    ruleset_for(request, project_type)
    footprints = _read(request, file, crs, encoding, source_layer)
    footprint = parse_footprint(as_feature_collection(footprints))
    report = evaluate(
        conn,
        footprint,
        project_type,
        plan=check_plan_of(request),
        flags=options.flags,
        data_dir=request.app.state.settings.data_dir,
        resident=request.app.state.resident,
    )
    return store_report_audited(
        conn,
        grant,
        project_code,
        grant.principal.org_id,
        footprint.geometry,
        report,
        audit_extra={"source_file": Path(file.filename or "upload").name},
    )


def _file_sites(
    request: Request,
    file: FileField,
    project_type: ProjectType,
    crs: Crs = None,
    encoding: Encoding = None,
    source_layer: SourceLayer = None,
    project_code: ProjectCode = None,
    flags: Flags = None,
) -> tuple[CheckOptions, list[SiteInput]]:
    """The form of a file of several footprints: the check options and one site per feature, named by its
    name/名称 attribute when present (an unknown project type or a bad file is refused first)."""
    options = _options(project_type, project_code, flags)
    ruleset_for(request, project_type)
    footprints = _read(request, file, crs, encoding, source_layer)
    return options, sites_from_features(as_feature_collection(footprints))


FileSites = Annotated[tuple[CheckOptions, list[SiteInput]], Depends(_file_sites)]


@router.post(
    "/batch/upload", dependencies=[HeavyWork], response_model=BatchResult, summary="上传文件批量预评价"
)
def upload_batch(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    form: FileSites,
) -> BatchResult:
    """Each feature of the file is one footprint (named by its name/名称 attribute when present)."""
    options, sites = form
    return batch_of(conn, request, grant, options, sites)


@router.post(
    "/compare/upload", dependencies=[HeavyWork], response_model=Comparison, summary="上传文件选址比选"
)
def upload_comparison(
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
    form: FileSites,
) -> Comparison:
    """Each feature of the file is one candidate site (named by its name/名称 attribute when present); 2–5."""
    options, sites = form
    check_candidate_count(len(sites))
    return compare_of(conn, request, grant, options, sites)
