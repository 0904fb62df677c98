"""Organisation directory and its seed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import psycopg
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.db import contains_pattern
from app.edge.params import Number
from app.errors import Conflict, NotFound, PreconditionFailed
from layers.audit import Actor, record


class OrgKind(StrEnum):
    """What an organisation is."""

    DEPARTMENT = "department"
    PROJECT_UNIT = "project_unit"
    SUBDISTRICT = "subdistrict"
    OTHER = "other"


class Organisation(BaseModel):
    """An organisation users belong to."""

    id: int
    code: str
    name_zh: str
    name_en: str | None
    kind: OrgKind
    created_at: datetime
    updated_at: datetime
    version: int


class OrganisationCreate(BaseModel):
    """A new organisation."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")
    # A name of blanks is refused, not stored: pickers and exports would show an empty organisation.
    name_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    name_en: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        None
    )
    kind: OrgKind


class OrganisationUpdate(BaseModel):
    """Changes to an organisation (its code stays: accounts and records name it); ``version`` as last read."""

    model_config = ConfigDict(extra="forbid")  # a sent "code" is refused, not silently ignored
    version: Number
    name_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        None
    )
    name_en: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None, description="英文名称；空字符串表示清除"
    )
    kind: OrgKind | None = None


def get_org(conn: Connection[Any], org_id: int) -> Organisation:
    """One organisation, or 404."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM auth.organisation WHERE id = %s", (org_id,)).fetchone()
    if row is None:
        raise NotFound("组织不存在。", "No such organisation.")
    return Organisation(**row)


def list_orgs(
    conn: Connection[Any],
    kind: OrgKind | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Organisation]:
    """Organisations, optionally of one kind and matching ``q`` (name in either language, or code)."""
    pattern = contains_pattern(q.strip()) if q and q.strip() else None
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM auth.organisation WHERE (%(k)s::text IS NULL OR kind = %(k)s)"
            " AND (%(p)s::text IS NULL OR name_zh ILIKE %(p)s OR name_en ILIKE %(p)s OR code ILIKE %(p)s)"
            " ORDER BY kind, code LIMIT %(limit)s OFFSET %(offset)s",
            {"k": kind, "p": pattern, "limit": limit, "offset": offset},
        ).fetchall()
    return [Organisation(**r) for r in rows]


def create_org(conn: Connection[Any], actor: Actor, data: OrganisationCreate) -> Organisation:
    """Add an organisation."""
    with conn.transaction():
        try:
            row = conn.execute(
                "INSERT INTO auth.organisation (code, name_zh, name_en, kind)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (data.code, data.name_zh, data.name_en, data.kind.value),
            ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(
                f"组织代码“{data.code}”已存在。", f"Organisation code '{data.code}' is taken."
            ) from exc
        assert row is not None
        org = get_org(conn, row[0])
        record(conn, actor, "organisation.create", "organisation", org.id, after=org.model_dump())
    return org


def update_org(conn: Connection[Any], actor: Actor, org_id: int, data: OrganisationUpdate) -> Organisation:
    """Rename or reclassify an organisation when ``data.version`` is current, else 412; audited."""
    with conn.transaction():
        before = get_org(conn, org_id)
        if before.version != data.version:
            raise PreconditionFailed(
                f"组织已被他人修改（当前版本 {before.version}），请刷新后重试。",
                f"The organisation changed since you read it (current version {before.version}).",
                current=before.model_dump(mode="json"),
            )
        name_en = before.name_en if data.name_en is None else (data.name_en or None)
        conn.execute(
            "UPDATE auth.organisation SET name_zh = %s, name_en = %s, kind = %s, updated_at = now(),"
            " version = version + 1 WHERE id = %s AND version = %s",
            (data.name_zh or before.name_zh, name_en, (data.kind or before.kind).value, org_id, data.version),
        )
        after = get_org(conn, org_id)
        record(
            conn,
            actor,
            "organisation.update",
            "organisation",
            org_id,
            before=before.model_dump(),
            after=after.model_dump(),
        )
    return after


# The district's departments and its 11 sub-districts (街道), seeded on first run.
SEED_ORGANISATIONS: list[tuple[str, str, str, OrgKind]] = [
    (
        "gov-data",
        "龙岗区政务服务数据管理局",
        "Government Services and Data Administration",
        OrgKind.DEPARTMENT,
    ),
    # The one window (综合窗口) of the district's government service centre: receives, never decides.
    ("service-center", "龙岗区政务服务中心", "Longgang Government Service Centre", OrgKind.OTHER),
    ("drc", "龙岗区发展和改革局", "Development and Reform Bureau", OrgKind.DEPARTMENT),
    ("pnr", "规划和自然资源局龙岗管理局", "Planning and Natural Resources Bureau", OrgKind.DEPARTMENT),
    ("housing", "龙岗区住房和建设局", "Housing and Construction Bureau", OrgKind.DEPARTMENT),
    ("eco-env", "深圳市生态环境局龙岗管理局", "Ecology and Environment Bureau", OrgKind.DEPARTMENT),
    ("water", "龙岗区水务局", "Water Affairs Bureau", OrgKind.DEPARTMENT),
    ("transport", "龙岗区交通运输局", "Transport Bureau", OrgKind.DEPARTMENT),
    (
        "forestry",
        "龙岗区城市管理和综合执法局（林业）",
        "Urban Management Bureau (Forestry)",
        OrgKind.DEPARTMENT,
    ),
    ("land-prep", "龙岗区土地整备局", "Land Preparation Bureau", OrgKind.DEPARTMENT),
    ("emergency", "龙岗区应急管理局", "Emergency Management Bureau", OrgKind.DEPARTMENT),
    ("culture", "龙岗区文化广电旅游体育局", "Culture, Tourism and Sports Bureau", OrgKind.DEPARTMENT),
    ("education", "龙岗区教育局", "Education Bureau", OrgKind.DEPARTMENT),
    ("health", "龙岗区卫生健康局", "Health Bureau", OrgKind.DEPARTMENT),
    ("industry", "龙岗区工业和信息化局", "Industry and Information Technology Bureau", OrgKind.DEPARTMENT),
    ("works", "龙岗区建筑工务署", "Public Works Office", OrgKind.PROJECT_UNIT),
    ("sd-pinghu", "平湖街道办事处", "Pinghu Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-bantian", "坂田街道办事处", "Bantian Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-buji", "布吉街道办事处", "Buji Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-nanwan", "南湾街道办事处", "Nanwan Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-jihua", "吉华街道办事处", "Jihua Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-henggang", "横岗街道办事处", "Henggang Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-yuanshan", "园山街道办事处", "Yuanshan Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-longcheng", "龙城街道办事处", "Longcheng Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-longgang", "龙岗街道办事处", "Longgang Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-baolong", "宝龙街道办事处", "Baolong Subdistrict", OrgKind.SUBDISTRICT),
    ("sd-pingdi", "坪地街道办事处", "Pingdi Subdistrict", OrgKind.SUBDISTRICT),
]

ADMIN_ORG = "gov-data"


def seed_organisations(conn: Connection[Any], actor: Actor) -> int:
    """Insert the seed organisations that are missing; return how many were added."""
    added = 0
    with conn.transaction():
        for code, name_zh, name_en, kind in SEED_ORGANISATIONS:
            row = conn.execute(
                """
                INSERT INTO auth.organisation (code, name_zh, name_en, kind) VALUES (%s, %s, %s, %s)
                ON CONFLICT (code) DO NOTHING RETURNING id
                """,
                (code, name_zh, name_en, kind.value),
            ).fetchone()
            if row is not None:
                added += 1
                record(
                    conn,
                    actor,
                    "organisation.seed",
                    "organisation",
                    row[0],
                    after={"code": code, "name_zh": name_zh, "kind": kind.value},
                )
    return added
