"""Route: service health (public)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from app import __version__
from app.auth.deps import public
from app.db import Conn
from app.errors import ServiceUnavailable
from app.migrate import head_revision

router = APIRouter(prefix="/api", tags=["health"])


class DatabaseHealth(BaseModel):
    """What the database reports."""

    reachable: bool
    postgres_version: str
    postgis_version: str | None
    revision: str | None
    head_revision: str | None
    up_to_date: bool


class CheckIndexHealth(BaseModel):
    """The pre-evaluation check index held in this process's memory."""

    status: str  # loading | ready | off | failed
    parts: int
    layers: int


class GateHealth(BaseModel):
    """One admission gate of this process (see app/db.py): how full it is and what it refused."""

    name: str  # database | heavy | passwords
    capacity: int
    in_use: int
    waiting: int
    admitted: int
    refused: int
    timeout_s: float


class Health(BaseModel):
    """Service health."""

    status: str
    version: str
    database: DatabaseHealth
    check_index_memory: CheckIndexHealth
    admission: list[GateHealth]


@router.get("/health", response_model=Health, dependencies=[Depends(public())], summary="健康检查")
def health(request: Request, conn: Conn) -> Health:
    """Database reachable, PostGIS version and migration revision."""
    row = conn.execute(
        """
        SELECT current_setting('server_version'),
               (SELECT extversion FROM pg_extension WHERE extname = 'postgis'),
               (SELECT version_num FROM public.alembic_version LIMIT 1)
        """
    ).fetchone()
    if row is None:  # pragma: no cover - a SELECT without FROM always returns a row
        raise ServiceUnavailable()
    head = head_revision()
    resident = request.app.state.resident
    snapshot = resident.snapshot
    return Health(
        status="ok" if row[2] == head else "degraded",
        version=__version__,
        database=DatabaseHealth(
            reachable=True,
            postgres_version=row[0],
            postgis_version=row[1],
            revision=row[2],
            head_revision=head,
            up_to_date=row[2] == head,
        ),
        check_index_memory=CheckIndexHealth(
            status=resident.status,
            parts=len(snapshot.parts) if snapshot else 0,
            layers=len(snapshot.versions) if snapshot else 0,
        ),
        admission=[
            GateHealth.model_validate(gate.stats())
            for gate in (
                request.app.state.db_gate,
                request.app.state.heavy_gate,
                request.app.state.password_gate,
            )
        ],
    )
