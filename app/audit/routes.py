"""Routes: the audit administrator's reading of the audit log — search, export, chain verification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.audit.chain import ChainChecker, ChainReport, seal_all, sealed_rows, start_of
from app.audit.exports import XLSX, events_csv, events_xlsx
from app.audit.search import AuditEvent, AuditFilter, audit_filter, search
from app.auth.deps import Allow, AllowBriefly, Grant
from app.auth.policy import Action
from app.db import Conn, HeavyWork, leased_connection
from app.edge.params import RowId
from app.errors import Unprocessable
from layers.audit import record

router = APIRouter(prefix="/api/audit", tags=["audit"])

Filter = Annotated[AuditFilter, Depends(audit_filter)]
# The most rows one export holds; a larger search is refused with a request to narrow it.
EXPORT_LIMIT = 50_000


class AuditPage(BaseModel):
    """A page of events, newest first; pass ``next_before_id`` as ``before_id`` for the next page."""

    events: list[AuditEvent]
    next_before_id: int | None


@router.get("", response_model=AuditPage, summary="审计日志")
def list_events(
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.AUDIT_READ))],
    where: Filter,
    before_id: Annotated[RowId | None, Query(description="分页：返回 ID 小于此值的记录")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Events matching every given filter, newest first, keyset-paged."""
    rows = search(conn, where, before_id, limit + 1)
    more = len(rows) > limit
    events = rows[:limit]
    return AuditPage(events=events, next_before_id=events[-1].id if more and events else None)


def _exported(conn: Conn, grant: Grant, where: AuditFilter, kind: str) -> list[AuditEvent]:
    """The search's events, with the export itself audited in the same transaction."""
    events = search(conn, where, None, EXPORT_LIMIT + 1)
    if len(events) > EXPORT_LIMIT:
        raise Unprocessable(
            f"检索结果超过 {EXPORT_LIMIT} 条，请缩小范围（时间段、操作人或操作）后再导出。",
            f"The search finds more than {EXPORT_LIMIT} events; narrow it (period, user, action) to export.",
        )
    after = {"format": kind, "rows": len(events), "filters": where.described()}
    record(conn, grant.actor, "audit.export", "audit_event", None, after=after)
    return events


@router.get(
    "/export.{kind}",
    dependencies=[HeavyWork],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "CSV（UTF-8，含 BOM）或 XLSX"},
    },
    summary="导出审计日志检索结果（CSV / XLSX）",
)
async def export_events(
    request: Request,
    kind: Literal["csv", "xlsx"],
    grant: Annotated[Grant, Depends(AllowBriefly(Action.AUDIT_EXPORT))],
    where: Filter,
) -> Response:
    """Every event of the search (newest first, at most 50,000); the export is itself audited.

    The connection is given back before the file is built (CPU work that needs none).
    """
    async with leased_connection(request) as conn:
        events = await run_in_threadpool(_exported, conn, grant, where, kind)
    if kind == "csv":
        body, media = await run_in_threadpool(events_csv, events), "text/csv; charset=utf-8"
    else:
        body, media = await run_in_threadpool(events_xlsx, events), XLSX
    headers = {"Content-Disposition": f'attachment; filename="audit-log.{kind}"'}
    return Response(body, media_type=media, headers=headers)


@router.get("/verify", response_model=ChainReport, dependencies=[HeavyWork], summary="验证审计链")
async def verify_chain(
    request: Request, grant: Annotated[Grant, Depends(AllowBriefly(Action.AUDIT_VERIFY))]
) -> ChainReport:
    """Seal new rows, then prove the chain to its head or name the first broken row (audited).

    Rows are read a batch per borrowed connection and hashed with none held.
    """
    async with leased_connection(request) as conn:
        checker = await run_in_threadpool(_sealed_start, conn)
    while True:
        async with leased_connection(request) as conn:
            rows = await run_in_threadpool(sealed_rows, conn, checker.next_seq - 1)
        if not rows or not await run_in_threadpool(checker.feed, rows):
            break
    report = checker.report()
    outcome = report.model_dump(include={"verified", "rows_checked", "last_seq", "head_hash", "first_break"})
    async with leased_connection(request) as conn:
        await run_in_threadpool(record, conn, grant.actor, "audit.verify", "audit_chain", None, None, outcome)
    return report


def _sealed_start(conn: Conn) -> ChainChecker:
    """Seal what is committed, then the checker for where the remaining chain starts."""
    seal_all(conn)
    return start_of(conn)
