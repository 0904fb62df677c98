"""The request edge: refused text, bounded integers, body limits and 405s — each once a 500 or worse."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.edge.text import refused_character, refused_json_fields
from tests.api.test_demands import NEED
from tests.api.test_demolition_ledger import new_project as new_demolition_project
from tests.api.test_demolition_ledger import new_unit
from tests.helpers import unique

HUGE = "99999999999999999999"  # 20 digits: past bigint (9223372036854775807)


def fields_named(r: Any) -> list[str]:
    """The fields a 422 problem names."""
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "errors" in r.json(), r.text
    return [e["field"] for e in r.json()["errors"]]


def count(conn: psycopg.Connection[Any], sql: str, *args: Any) -> int:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


# --- text -----------------------------------------------------------------------------------------------


def test_refused_characters_known_answers() -> None:
    assert refused_character("龙岗\tA\nB\r") is None  # multi-line text keeps tab, LF, CR
    assert refused_character("a\x00b") == "U+0000"
    assert refused_character("esc\x1b[0m") == "U+001B"
    assert refused_character("del\x7f") == "U+007F"
    assert refused_character("\ud800") == "U+D800"
    assert refused_character("a\tb", single_line=True) == "U+0009"
    # JSON: escapes are decoded first; an escaped backslash followed by "u0000" is plain text.
    assert refused_json_fields(b'{"a": "x\\u0000y"}') == [("a", "U+0000")]
    assert refused_json_fields(b'{"a": "x\\\\u0000y"}') == []
    assert refused_json_fields(b'{"a": ["ok", {"b\\u0001": 1}]}') == [("a.1.b\x01", "U+0001")]
    assert refused_json_fields(b'{"a": "\\f"}') == [("a", "U+000C")]
    assert refused_json_fields(b'{"a": "line\\nbreak\\ttab"}') == []
    assert refused_json_fields(b"not json \\u0000") == []


def test_nul_in_json_text_is_refused_and_nothing_written(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    unit = make_account(Role.PROJECT_UNIT, "works")
    coord = make_account(Role.COORDINATOR, "land-prep")
    demands = count(owner_conn, "SELECT count(*) FROM project.demand")
    r = client.post("/api/demands", json={**NEED, "title": "缺少\x00小学"}, headers=unit.headers)
    assert fields_named(r) == ["title"]
    assert "title" in r.json()["message_zh"] and "title" in r.json()["message_en"]
    assert count(owner_conn, "SELECT count(*) FROM project.demand") == demands

    name = unique("nul")
    body = {"username": name, "display_name": "a\x00b", "role": "viewer", "org_code": "pnr"}
    assert fields_named(client.post("/api/users", json=body, headers=admin.headers)) == ["display_name"]
    assert count(owner_conn, "SELECT count(*) FROM auth.user WHERE username = %s", name) == 0

    code = unique("org")
    body = {"code": code, "name_zh": "单位\x00", "kind": "department"}
    assert fields_named(client.post("/api/orgs", json=body, headers=admin.headers)) == ["name_zh"]
    assert count(owner_conn, "SELECT count(*) FROM auth.organisation WHERE code = %s", code) == 0

    p = new_demolition_project(client, admin)
    u = new_unit(client, coord, p["id"], "NUL-1")
    blocker = {"unit_id": u["id"], "category": "utility", "title": "管线\x00", "department_code": "water"}
    url = f"/api/demolition/projects/{p['id']}/blockers"
    r = client.post(url, json={**blocker, "deadline": "2026-03-10"}, headers=coord.headers)
    assert fields_named(r) == ["title"]
    assert client.get(url, headers=coord.headers).json() == []


def test_control_characters_that_break_exports_are_refused_but_line_breaks_pass(
    client: TestClient, make_account: Any
) -> None:
    """XLSX (XML) cannot hold C0 controls other than tab/LF/CR: openpyxl raised on export (500)."""
    unit = make_account(Role.PROJECT_UNIT, "works")
    coloured = {**NEED, "description": "颜色\x1b[31m红\x1b[0m"}
    assert fields_named(client.post("/api/demands", json=coloured, headers=unit.headers)) == ["description"]
    lines = {**NEED, "description": "第一行\n第二行\r\n\t缩进"}
    r = client.post("/api/demands", json=lines, headers=unit.headers)
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "第一行\n第二行\r\n\t缩进"


def test_a_unit_code_with_a_vertical_tab_is_refused_so_the_progress_workbook_still_exports(
    client: TestClient, make_account: Any
) -> None:
    """The fuzzer stored unit code "\x0b"; openpyxl's IllegalCharacterError then made progress.xlsx a 500."""
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    p = new_demolition_project(client, admin)
    url = f"/api/demolition/projects/{p['id']}/units"
    body = {"unit_code": "A\x0bB", "floor_area_m2": "100", "households": 1}
    assert fields_named(client.post(url, json=body, headers=coord.headers)) == ["unit_code"]
    new_unit(client, coord, p["id"], "A-1", owner_name="张三\t李四")
    r = client.get(f"/api/demolition/projects/{p['id']}/progress.xlsx", headers=coord.headers)
    assert r.status_code == 200, r.text
    assert r.content[:2] == b"PK"  # a zip: the workbook was written


@pytest.mark.parametrize(
    "url",
    [
        "/api/warnings?department=%00",
        "/api/kpis?department=water%00",
        "/api/items?department=%00",
        "/api/users?role=%00",
        "/api/demolition/blockers?status=%00",
    ],
)
def test_nul_in_query_filters_is_422_naming_the_parameter(
    client: TestClient, make_account: Any, url: str
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    name = url.split("?")[1].split("=")[0]
    assert fields_named(client.get(url, headers=admin.headers)) == [f"query.{name}"]


def test_nul_in_an_ogc_filter_value_is_a_4xx(client: TestClient, make_account: Any) -> None:
    planner = make_account(Role.PLANNER, "pnr")
    r = client.get("/ogc/collections/cur_cadastre/items?parcel_no=%00", headers=planner.headers)
    assert fields_named(r) == ["query.parcel_no"]
    r = client.get("/ogc/collections/cur_cadastre/items?parcel_no=x", headers=planner.headers)
    assert r.status_code == 200, r.text


def test_nul_in_a_path_is_422(client: TestClient, make_account: Any) -> None:
    planner = make_account(Role.PLANNER, "pnr")
    assert fields_named(client.get("/api/layers/cur%00cadastre", headers=planner.headers)) == ["path"]


FOOTPRINT = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[114.25, 22.72], [114.251, 22.72], [114.251, 22.721], [114.25, 22.72]]],
            },
        }
    ],
}


def test_nul_in_upload_form_fields_is_422_naming_the_field(client: TestClient, make_account: Any) -> None:
    planner = make_account(Role.PLANNER, "pnr")
    files = {"file": ("site.geojson", io.BytesIO(json.dumps(FOOTPRINT).encode()), "application/geo+json")}
    data = {"project_type": "school", "encoding": "GBK\x00"}
    r = client.post("/api/pre-evaluations/upload", files=files, data=data, headers=planner.headers)
    assert fields_named(r) == ["encoding"]
    # A file name with a raw NUL (httpx would percent-encode it, so the body is written by hand).
    body = (
        b'--b\r\nContent-Disposition: form-data; name="project_type"\r\n\r\nschool\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="site\x00.geojson"\r\n'
        b"Content-Type: application/geo+json\r\n\r\n{}\r\n--b--\r\n"
    )
    headers = {**planner.headers, "Content-Type": "multipart/form-data; boundary=b"}
    r = client.post("/api/pre-evaluations/upload", content=body, headers=headers)
    assert fields_named(r) == ["file"]


# --- integers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/items?project_id={HUGE}", "project_id"),
        (f"/api/kpis?project_id={HUGE}", "project_id"),
        (f"/api/warnings?project_id={HUGE}", "project_id"),
        (f"/api/users?offset={HUGE}", "offset"),
        (f"/api/audit?before_id={HUGE}", "before_id"),
        (f"/api/projects/{HUGE}", "project_id"),
        (f"/api/demolition/units/{HUGE}", "unit_id"),
    ],
)
def test_integers_beyond_bigint_are_422(client: TestClient, make_account: Any, url: str, field: str) -> None:
    # The audit log is the audit administrator's alone; the rest the system administrator reaches.
    admin = make_account(Role.AUDIT_ADMIN if url.startswith("/api/audit") else Role.SYSTEM_ADMIN, "gov-data")
    r = client.get(url, headers=admin.headers)
    assert any(name.endswith(field) for name in fields_named(r)), r.text
    # The largest bigint is a valid id that names nothing: 404 or an empty list, never a 500.
    fine = client.get(url.replace(HUGE, str(2**63 - 1)), headers=admin.headers)
    assert fine.status_code in (200, 404), fine.text


def test_integers_beyond_bigint_in_bodies_are_422(client: TestClient, make_account: Any) -> None:
    coord = make_account(Role.COORDINATOR, "land-prep")
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    p = new_demolition_project(client, admin)
    url = f"/api/demolition/projects/{p['id']}/blockers"
    body = {"unit_id": int(HUGE), "category": "utility", "title": "x", "department_code": "water"}
    assert fields_named(client.post(url, json={**body, "deadline": "2026-03-10"}, headers=coord.headers)) == [
        "unit_id"
    ]
