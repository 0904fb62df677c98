"""A stored pre-evaluation adds its triggered approval items to the project's plan."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from app.auth.policy import Role
from app.orgs.service import OrgKind
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project


def finding(grade: str, item: str, layer: str, message: str) -> dict[str, Any]:
    return {
        "grade": grade,
        "approval_item": item,
        "layer": layer,
        "layer_name_zh": layer,
        "message_zh": message,
        "department": "pnr",
        "rule_id": f"r-{item}",
    }


def stored_report(conn: psycopg.Connection[Any], user_id: int, org_id: int, findings: list[Any]) -> int:
    row = conn.execute(
        "INSERT INTO project.pre_evaluation (created_by_id, org_id, project_type, verdict, footprint,"
        " footprint_area_m2, rules_version, layer_versions, report)"
        " VALUES (%s, %s, 'school', '有条件通过', 'SRID=4547;POINT(500000 2500000)', 1, 't', '{}', %s)"
        " RETURNING id",
        (user_id, org_id, Jsonb({"findings": findings})),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_conditional_findings_add_their_items_with_the_conflict_as_reason(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any], make_org: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    items = plan_items(client, unit, p["id"])
    report_id = stored_report(
        owner_conn,
        unit.id,
        unit.org_id,
        [
            finding("conditional", "forest_use_permit", "林地", "占用Ⅱ级保护林地 1200 m²"),
            finding("prohibited", "unavoidability_study", "生态保护红线", "占用生态保护红线 300 m²"),
            finding("conditional", "environmental_impact", "饮用水水源二级保护区", "位于二级保护区"),
            finding("advisory", "archaeology_survey", "地下文物埋藏区", "提示"),
        ],
    )
    r = client.post(f"/api/projects/{p['id']}/plan/pre-evaluations/{report_id}", headers=unit.headers)
    assert r.status_code == 200, r.text
    added = {i["item_code"]: i for i in r.json()}
    assert set(added) == {"forest_use_permit", "unavoidability_study", "environmental_impact"}
    forest = added["forest_use_permit"]
    assert forest["source"] == "pre_evaluation" and forest["department_code"] == "forestry"
    assert "林地" in forest["reason"] and f"#{report_id}" in forest["reason"]
    assert (
        added["environmental_impact"]["source"] == "template"
        and "二级保护区" in added["environmental_impact"]["reason"]
    )
    # 使用林地审核 and 不可避让论证 come before 用地预审.
    pre = client.get(f"/api/items/{items['land_pre_review']['id']}", headers=unit.headers).json()
    assert {forest["id"], added["unavoidability_study"]["id"]} <= set(pre["prerequisites"])
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of=2025-06-02", headers=unit.headers).json()
    assert plan["critical_path_codes"][0] == "unavoidability_study"  # 60 days, before the pre-review
    # Another unit's report is not this project's.
    _, other = make_org(OrgKind.PROJECT_UNIT)
    stranger = make_account(Role.PROJECT_UNIT, other)
    foreign = stored_report(owner_conn, stranger.id, stranger.org_id, [])
    r = client.post(f"/api/projects/{p['id']}/plan/pre-evaluations/{foreign}", headers=unit.headers)
    assert r.status_code == 404


def test_a_report_naming_the_project_code_feeds_the_new_plan(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    report_id = stored_report(
        owner_conn,
        unit.id,
        unit.org_id,
        [finding("conditional", "heritage_impact", "文物保护范围", "紫线内")],
    )
    owner_conn.execute(
        "UPDATE project.pre_evaluation SET project_code = %s WHERE id = %s", (p["code"], report_id)
    )
    items = plan_items(client, unit, p["id"])
    assert items["heritage_impact"]["source"] == "pre_evaluation"
    assert items["heritage_impact"]["id"] in items["land_pre_review"]["prerequisites"]
    assert "紫线内" in items["heritage_impact"]["reason"]
