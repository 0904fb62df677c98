"""Migration 0009 on a database of its own: items created before it get their English name (by their
Chinese name, else their code, else the Chinese name), the plan API serves it, and the downgrade removes
the columns."""

from __future__ import annotations

from typing import Any

import psycopg
from alembic import command
from fastapi.testclient import TestClient

from app.auth import users
from app.auth.policy import Role
from app.main import create_app
from app.migrate import alembic_config
from app.orgs import service as orgs
from layers.audit import Actor
from tests.conftest import cluster_lock, create_throwaway_database, drop_database
from tests.helpers import sign_in

# Items as the code before 0009 stored them: (code, Chinese name, source, department).
OLD_ITEMS = [
    ("project_proposal", "项目建议书批复", "template", "drc"),
    ("construction_permit", "施工许可证", "template", "housing"),
    ("forest_use_permit", "使用林地审核同意书", "pre_evaluation", "forestry"),
    ("river_works_consent", "河道管理范围内建设项目工程建设方案审批（蓝线）", "pre_evaluation", "water"),
    ("energy_review", "节能审查（旧称）", "template", "drc"),  # a renamed item: found by its code
    ("district_special_review", "区级专项审查", "manual", "pnr"),  # unknown anywhere: keeps its Chinese name
]
EXPECTED = {
    "project_proposal": "Project proposal approval",
    "construction_permit": "Construction permit",
    "forest_use_permit": "Forest-land use approval",
    "river_works_consent": "River-zone works approval (blue line)",
    "energy_review": "Energy-saving review",
    "district_special_review": "区级专项审查",
}


def old_plan(conn: psycopg.Connection[Any]) -> int:
    """A project with items written by the pre-0009 schema; returns the project id."""
    org = dict(conn.execute("SELECT code, id FROM auth.organisation").fetchall())
    row = conn.execute(
        "INSERT INTO project.project (code, name, project_type, owner_dept_id, unit_org_id, investment_wan,"
        " funding_source, planned_start, initiation) VALUES ('2025-440307-47-01-000018', '迁移前的项目',"
        " 'house_building', %s, %s, 8000, '区财政', '2026-10-12', 'unit') RETURNING id",
        (org["education"], org["works"]),
    ).fetchone()
    assert row is not None
    for code, name, source, dept in OLD_ITEMS:
        conn.execute(
            "INSERT INTO approval.item (project_id, item_code, name_zh, stage, department_code,"
            " department_id, statutory_days, promised_days, source, reason)"
            " VALUES (%s, %s, %s, 'project_land', %s, %s, 20, 10, %s, %s)",
            (
                row[0],
                code,
                name,
                dept,
                org.get(dept),
                source,
                "预评价#1 林地：占用Ⅲ级保护林地" if source == "pre_evaluation" else None,
            ),
        )
    return int(row[0])


def test_items_created_before_the_migration_get_their_english_names() -> None:
    settings, name = create_throwaway_database("duogui_namemig")
    cfg = alembic_config(settings.owner_dsn, settings.app_role)
    try:
        with cluster_lock():
            command.upgrade(cfg, "0008_provisional_calendar")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            orgs.seed_organisations(conn, Actor.system("tests"))
            project_id = old_plan(conn)
        with cluster_lock():
            command.upgrade(cfg, "head")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            stored = dict(conn.execute("SELECT item_code, name_en FROM approval.item").fetchall())
            assert stored == EXPECTED
            users.create_user(
                conn,
                Actor.system("tests"),
                users.UserCreate(
                    username="namemig", role=Role.SYSTEM_ADMIN, org_code="pnr", password="Passw0rd-mig1"
                ),
            )
        with TestClient(create_app(settings)) as client:
            headers = {"Authorization": f"Bearer {sign_in(client, 'namemig', 'Passw0rd-mig1')}"}
            r = client.get(f"/api/projects/{project_id}/plan?as_of=2026-03-02", headers=headers)
            assert r.status_code == 200, r.text
            served = {i["item_code"]: (i["name_zh"], i["name_en"], i["reason_en"]) for i in r.json()["items"]}
            assert {code: en for code, (_, en, _) in served.items()} == EXPECTED
            assert served["construction_permit"][:2] == ("施工许可证", "Construction permit")
            assert served["forest_use_permit"][2] is None  # no English reason was kept before
            items = client.get(f"/api/items?project_id={project_id}", headers=headers).json()
            assert {i["item_code"]: i["name_en"] for i in items} == EXPECTED
        with cluster_lock():
            command.downgrade(cfg, "0008_provisional_calendar")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            columns = conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'approval' AND table_name = 'item' AND column_name LIKE '%%_en'"
            ).fetchall()
            assert columns == []
            assert conn.execute("SELECT count(*) FROM approval.item").fetchone() == (len(OLD_ITEMS),)
    finally:
        drop_database(name)
