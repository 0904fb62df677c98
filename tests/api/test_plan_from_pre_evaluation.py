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


def engine_finding(grade: str, item_zh: str, layer: str, layer_zh: str, zh: str, en: str) -> dict[str, Any]:
    """A finding as the engine stores it: the approval item by its Chinese name, messages in two languages."""
    return {
        "grade": grade,
        "approval_item": item_zh,
        "layer": layer,
        "layer_name_zh": layer_zh,
        "message_zh": zh,
        "message_en": en,
        "department": "forestry",
        "rule_id": f"{layer}.x",
    }


def test_new_items_carry_english_names_everywhere_they_are_served(
    client: TestClient, make_account: Any
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    items = plan_items(client, unit, p["id"])
    assert (items["construction_permit"]["name_zh"], items["construction_permit"]["name_en"]) == (
        "施工许可证",
        "Construction permit",
    )
    plan = client.get(f"/api/projects/{p['id']}/plan?as_of=2025-06-02", headers=unit.headers).json()
    names = {i["item_code"]: i["name_en"] for i in plan["items"]}
    assert names["land_pre_review"] == "Land-use pre-review and site selection opinion"
    assert all(name.strip() for name in names.values())
    listed = client.get(f"/api/items?project_id={p['id']}", headers=unit.headers).json()
    assert {i["item_code"]: i["name_en"] for i in listed} == names
    templates = client.get("/api/approval-templates", headers=unit.headers).json()
    house = next(t for t in templates if t["project_type"] == "house_building")
    assert {i["code"]: i["name_en"] for i in house["items"]}[
        "project_proposal"
    ] == "Project proposal approval"


def test_a_stored_report_links_once_by_the_item_names_it_carries(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    unit = make_account(Role.PROJECT_UNIT, "works")
    p = new_project(client, unit, owner_dept_code="education")
    items = plan_items(client, unit, p["id"])
    report_id = stored_report(
        owner_conn,
        unit.id,
        unit.org_id,
        [
            engine_finding(
                "conditional",
                "使用林地审核同意书",
                "forest_land",
                "林地",
                "占用Ⅲ级保护林地 2500 m²",
                "Occupies 2500 m² of grade III forest land",
            ),
            engine_finding(
                "conditional",
                "环境影响评价文件审批",
                "water_source_2",
                "饮用水水源二级保护区",
                "位于二级保护区",
                "In zone 2",
            ),
        ],
    )
    url = f"/api/projects/{p['id']}/plan/pre-evaluations/{report_id}"
    r = client.post(url, headers=unit.headers)
    assert r.status_code == 200, r.text
    added = {i["item_code"]: i for i in r.json()}
    assert set(added) == {"forest_use_permit", "environmental_impact"}
    forest = added["forest_use_permit"]
    assert (forest["name_zh"], forest["name_en"]) == ("使用林地审核同意书", "Forest-land use approval")
    assert forest["reason"] == f"预评价#{report_id} 林地：占用Ⅲ级保护林地 2500 m²"
    assert (
        forest["reason_en"]
        == f"Pre-evaluation #{report_id} Forest land: Occupies 2500 m² of grade III forest land"
    )
    assert (
        forest["id"]
        in client.get(f"/api/items/{items['land_pre_review']['id']}", headers=unit.headers).json()[
            "prerequisites"
        ]
    )
    before = {
        i["id"]: (i["version"], i["reason"])
        for i in client.get(f"/api/items?project_id={p['id']}", headers=unit.headers).json()
    }
    # Linking the same report again adds and annotates nothing.
    r = client.post(url, headers=unit.headers)
    assert r.status_code == 200 and r.json() == []
    after = {
        i["id"]: (i["version"], i["reason"])
        for i in client.get(f"/api/items?project_id={p['id']}", headers=unit.headers).json()
    }
    assert after == before
    codes = [
        i["item_code"] for i in client.get(f"/api/items?project_id={p['id']}", headers=unit.headers).json()
    ]
    assert codes.count("forest_use_permit") == 1
