"""Routes: creating ledger units from a pre-evaluation, a spreadsheet or a GIS file; the templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork
from app.demolition import bulk, creation, sources
from app.demolition.bulk import BulkReport
from app.demolition.creation import CreationReport
from app.demolition.sheets import BULK_COLUMNS, COLUMNS, template_xlsx
from app.demolition.sources import ReportChoice
from app.deps import UploadKind, saved_upload, upload_limit
from app.edge.params import RowId
from layers.district import DISTRICT

router = APIRouter(tags=["demolition"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.DEMOLITION_READ))]
ManageGrant = Annotated[Grant, Depends(Allow(Action.DEMOLITION_MANAGE))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX_RESPONSE: dict[int | str, dict[str, object]] = {200: {"content": {XLSX: {}}, "description": "XLSX"}}


class FromPreEvaluation(BaseModel):
    """Which stored pre-evaluation report to take the buildings from."""

    pre_evaluation_id: RowId = Field(description="预评价报告编号")


@router.get(
    "/api/demolition/projects/{project_id}/pre-evaluations",
    response_model=list[ReportChoice],
    summary="可用于生成征拆单元的预评价报告",
)
def pre_evaluation_choices(
    project_id: RowId,
    conn: Conn,
    grant: ManageGrant,
    limit: Annotated[int, Query(ge=1, le=500, description="最多列出的报告数")] = 100,
) -> list[ReportChoice]:
    """Stored reports with buildings to demolish, the project's own first; each says how many are in the
    ledger already (those are skipped when units are created from it)."""
    return sources.report_choices(conn, grant, project_id, limit)


@router.post(
    "/api/demolition/projects/{project_id}/units/from-pre-evaluation",
    response_model=CreationReport,
    status_code=201,
    summary="由预评价生成征拆单元",
)
def from_pre_evaluation(
    project_id: RowId, body: FromPreEvaluation, conn: Conn, grant: ManageGrant
) -> CreationReport:
    """One unit per building the report found in the footprint; units already in the ledger are skipped."""
    return creation.from_pre_evaluation(conn, grant, project_id, body.pre_evaluation_id)


@router.post(
    "/api/demolition/projects/{project_id}/units/import",
    dependencies=[HeavyWork],
    response_model=CreationReport,
    status_code=201,
    summary="由表格导入征拆单元",
)
def import_sheet(
    project_id: RowId,
    request: Request,
    conn: Conn,
    grant: ManageGrant,
    file: Annotated[UploadFile, File(description="按模板填写的 .xlsx 或 .csv")],
) -> CreationReport:
    """All-or-nothing: any bad row refuses the file with every problem listed (422), nothing is written."""
    with saved_upload(request, file, UploadKind.SHEET) as upload:
        data = upload.path.read_bytes()
    return creation.import_sheet(conn, grant, project_id, data, upload.name)


@router.post(
    "/api/demolition/projects/{project_id}/units/import-gis",
    dependencies=[HeavyWork],
    response_model=CreationReport,
    status_code=201,
    summary="由 GIS 文件导入征拆单元",
    description="Polygons with the template's attribute columns; "
    f"reprojected to {DISTRICT.storage_crs.label}; all-or-nothing.",
)
def import_gis(
    project_id: RowId,
    request: Request,
    conn: Conn,
    grant: ManageGrant,
    file: Annotated[
        UploadFile, File(description="GeoPackage、Shapefile（zip）、GeoJSON、DXF 或 FileGDB（zip）")
    ],
    crs: Annotated[
        str | None, Form(max_length=200, description=f"文件无坐标系时指定，如 {DISTRICT.storage_crs.label}")
    ] = None,
) -> CreationReport:
    """Polygons with the template's attribute columns; reprojected to the storage CRS; all-or-nothing."""
    limit = upload_limit(request, UploadKind.LAYER)
    with saved_upload(request, file, UploadKind.LAYER) as upload:
        return creation.import_gis(conn, grant, project_id, upload.path, upload.name, crs, limit)


@router.get(
    "/api/demolition/templates/ledger.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSE,
    summary="征拆台账导入模板",
)
def ledger_template(_: ReadGrant) -> Response:
    """The import template: one header per column and a sheet explaining each (docs/DEMOLITION.md)."""
    headers = {"Content-Disposition": 'attachment; filename="demolition-ledger-template.xlsx"'}
    return Response(template_xlsx(COLUMNS, "征拆台账"), media_type=XLSX, headers=headers)


@router.get(
    "/api/demolition/templates/bulk.xlsx",
    response_class=Response,
    responses=_XLSX_RESPONSE,
    summary="征拆批量更新模板",
)
def bulk_template(_: ReadGrant) -> Response:
    """The bulk-update template: unit code, version, target status, reason, note and attribute columns."""
    headers = {"Content-Disposition": 'attachment; filename="demolition-bulk-template.xlsx"'}
    return Response(template_xlsx(BULK_COLUMNS, "批量更新"), media_type=XLSX, headers=headers)


@router.post(
    "/api/demolition/projects/{project_id}/bulk",
    dependencies=[HeavyWork],
    response_model=BulkReport,
    summary="批量更新征拆单元（表格）",
)
def bulk_update(
    project_id: RowId,
    request: Request,
    conn: Conn,
    grant: ManageGrant,
    file: Annotated[UploadFile, File(description="按批量更新模板填写的 .xlsx 或 .csv")],
    dry_run: Annotated[bool, Query(description="true：只检查并列出将要修改的内容和全部问题")] = True,
) -> BulkReport:
    """Dry run lists every change and problem; apply is all-or-nothing (409 bulk_refused on any problem)."""
    with saved_upload(request, file, UploadKind.SHEET) as upload:
        data = upload.path.read_bytes()
    return bulk.bulk_update(conn, grant, project_id, data, upload.name, dry_run)
