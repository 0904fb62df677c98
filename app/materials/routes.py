"""Routes: the materials store (材料库): upload, the caller's library, one material, its versions, bytes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from psycopg import Connection
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action, Role
from app.db import Conn, HeavyWork, leased_connection
from app.deps import today
from app.edge.downloads import content_disposition
from app.edge.middleware import MEBIBYTE
from app.edge.params import RowId
from app.errors import DuoguiError, Forbidden, NotFound, Unprocessable
from app.materials import service
from app.materials.guards import Staged, stage_stream, too_large
from app.materials.service import CODE_PATTERN, Material
from app.materials.storage import CHUNK, BlobStore, blob_store, use_store

router = APIRouter(prefix="/api/materials", tags=["materials"])

ReadGrant = Annotated[Grant, Depends(Allow(Action.MATERIALS_READ))]
UploadPurpose = Literal["application", "decision", "demolition"]
# What each uploading role stores: units their application materials, departments their decision
# documents, coordinators demolition agreements (minutes are generated, never uploaded).
ROLE_PURPOSE: dict[Role, str] = {
    Role.PROJECT_UNIT: "application",
    Role.REVIEWER: "decision",
    Role.COORDINATOR: "demolition",
}
PURPOSE_LABELS = {"application": "申报材料", "decision": "审批决定文书", "demolition": "征拆材料"}

log = logging.getLogger("duogui.materials")


def store_of(request: Request) -> BlobStore:
    """The application's blob store (made once from the settings)."""
    store: BlobStore | None = getattr(request.app.state, "material_store", None)
    if store is None:
        store = blob_store(request.app.state.settings)
        request.app.state.material_store = store
    return store


async def material_store_in_context(request: Request) -> None:
    """Application-wide dependency: the serving application's store is the request's current store (for
    :func:`app.materials.service.store_generated` called without one)."""
    use_store(store_of(request))


def check_purpose(grant: Grant, purpose: str) -> None:
    """Each uploading role stores one purpose (403 naming it otherwise)."""
    expected = ROLE_PURPOSE.get(grant.principal.role)
    if purpose != expected:
        raise Forbidden(
            f"当前角色只能上传{PURPOSE_LABELS.get(expected or '', '（无）')}（purpose={expected}）。",
            f"Your role may upload only purpose={expected}.",
            code="purpose_not_allowed",
        )


def check_slot(conn: Connection[Any], grant: Grant, purpose: str, project_id: int | None) -> None:
    """The caller may store this purpose for this project: units for their own projects (or org-wide),
    departments for projects with an item of theirs, coordinators for any project; else 403/404/422."""
    check_purpose(grant, purpose)
    role = grant.principal.role
    if project_id is None:
        if purpose == "application":
            return
        raise Unprocessable(
            "此类材料须指定所属项目（project_id）。",
            "This kind of material needs its project (project_id).",
            code="project_required",
        )
    org = grant.principal.org_id
    row = conn.execute(
        "SELECT p.unit_org_id = %(org)s, EXISTS (SELECT 1 FROM approval.item i"
        " WHERE i.project_id = p.id AND i.department_id = %(org)s)"
        " FROM project.project p WHERE p.id = %(id)s",
        {"org": org, "id": project_id},
    ).fetchone()
    ok = row is not None and (
        (role is Role.PROJECT_UNIT and row[0])
        or (role is Role.REVIEWER and row[1])
        or role is Role.COORDINATOR
    )
    if not ok:
        raise NotFound("项目不存在。", "No such project.")


def _store(
    conn: Connection[Any],
    store: BlobStore,
    grant: Grant,
    staged: Staged,
    purpose: str,
    code: str,
    project_id: int | None,
    valid_until: date | None,
) -> Material:
    check_slot(conn, grant, purpose, project_id)
    conn.commit()  # end the checks' read: the store's transaction is then the connection's own
    return service.store_upload(
        conn, store, grant, staged, purpose=purpose, code=code, project_id=project_id, valid_until=valid_until
    )


@router.post("", dependencies=[HeavyWork], status_code=201, response_model=Material, summary="上传材料")
async def upload_material(
    request: Request,
    grant: Annotated[Grant, Depends(AllowBriefly(Action.MATERIALS_UPLOAD))],
    file: Annotated[UploadFile, File(description="PDF、OFD、JPEG、PNG、DWG、DXF、DOCX、XLSX 或 ZIP")],
    material_code: Annotated[str, Form(pattern=CODE_PATTERN, description="材料代码，如 business_licence")],
    purpose: Annotated[
        UploadPurpose, Form(description="application 申报 / decision 决定文书 / demolition 征拆")
    ],
    project_id: Annotated[RowId | None, Form(description="所属项目；空为单位通用材料")] = None,
    valid_until: Annotated[date | None, Form(description="有效期至 YYYY-MM-DD（会过期的材料）")] = None,
) -> Material:
    """Store a file in the caller's organisation's library; uploading to a filled slot (same code, purpose
    and project) adds its next version. The type is told from the bytes and checked against what the
    checklists accept for the code; size, zip bombs, unsafe archive paths and bad names are refused
    (nothing is kept of a refused file). The file is hashed and checked before a connection is taken,
    behind the ``heavy`` gate (an archive is decompressed to be counted)."""
    if valid_until is not None and valid_until < today():
        raise Unprocessable(
            f"有效期 {valid_until} 已过，请上传有效的材料。",
            f"The material expired on {valid_until}; upload a valid one.",
            code="already_expired",
        )
    check_purpose(grant, purpose)  # refused before a byte is read
    limit: int = request.app.state.settings.materials_max_bytes
    if int(request.headers.get("content-length") or 0) > limit + MEBIBYTE:
        raise too_large(limit)
    store = store_of(request)
    allowed = service.allowed_types(material_code)
    staged = await run_in_threadpool(stage_stream, store, file.file, file.filename, limit, allowed)
    try:
        if not store.places_in_transaction:
            # An object store: check the slot, give the connection back, upload, then take one again for
            # the short transaction that records it (no connection is held while the bytes travel).
            async with leased_connection(request) as conn:
                await run_in_threadpool(check_slot, conn, grant, purpose, project_id)
            await run_in_threadpool(service.upload_ahead, store, staged)
        async with leased_connection(request) as conn:
            return await run_in_threadpool(
                _store, conn, store, grant, staged, purpose, material_code, project_id, valid_until
            )
    finally:
        staged.discard()


@router.get("", response_model=list[Material], summary="本单位材料库")
def list_materials(
    conn: Conn,
    grant: ReadGrant,
    material_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    project_id: Annotated[RowId | None, Query(description="只看该项目的材料")] = None,
    purpose: Annotated[Literal["application", "decision", "demolition", "minutes"] | None, Query()] = None,
    include_expired: Annotated[bool, Query(description="包括已过有效期的材料")] = False,
) -> list[Material]:
    """The current versions of the caller's organisation's materials (expired ones only when asked)."""
    return service.library(
        conn,
        grant.principal.org_id,
        today(),
        material_code=material_code,
        project_id=project_id,
        purpose=purpose,
        include_expired=include_expired,
    )


@router.get("/{material_id}", response_model=Material, summary="材料信息")
def get_material(material_id: RowId, conn: Conn, grant: ReadGrant) -> Material:
    """One version's metadata (404 unless the caller may read it)."""
    return service.get_material(conn, grant, material_id)


@router.get("/{material_id}/versions", response_model=list[Material], summary="材料的各版本")
def material_versions(material_id: RowId, conn: Conn, grant: ReadGrant) -> list[Material]:
    """Every version of the material that the caller may read, newest first."""
    return service.versions(conn, grant, material_id)


@router.get(
    "/{material_id}/content",
    response_class=StreamingResponse,
    summary="下载材料文件",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def material_content(
    material_id: RowId,
    request: Request,
    grant: Annotated[Grant, Depends(AllowBriefly(Action.MATERIALS_READ))],
) -> StreamingResponse:
    """The stored bytes, streamed, always as an attachment under the original file name, with the sniffed
    type (``nosniff`` is on every response): nothing stored is ever rendered inline. The metadata is read on
    a connection given back before the blob is opened (with an S3 store, a request to the object store)."""
    async with leased_connection(request) as conn:
        material = await run_in_threadpool(service.get_material, conn, grant, material_id)
    try:
        handle = await run_in_threadpool(store_of(request).open, material.sha256)
    except FileNotFoundError:
        # The catalogue names a file the store no longer has (lost outside the service): say so plainly and
        # leave a trace for the administrator (`duogui materials sweep` lists every such row).
        log.error("materials: the file of material %s (%s) is missing", material.id, material.sha256)
        raise DuoguiError(
            "该材料的文件在存储中缺失，请联系系统管理员恢复（可用 duogui materials sweep 检查）。",
            "The file of this material is missing from the store; ask the system administrator to restore it",
            code="material_file_missing",
        ) from None
    headers = {
        "Content-Disposition": content_disposition(material.file_name),
        "Content-Length": str(material.size),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
        "ETag": f'"{material.sha256}"',
    }
    return StreamingResponse(_chunks(handle), media_type=material.media_type, headers=headers)


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The open blob in chunks; closed at the end (or when the client goes away)."""
    with handle:
        while data := handle.read(CHUNK):
            yield data
