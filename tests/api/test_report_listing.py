"""The report list as a picker reads it: project name and code, type label, sub-district, searchable, paged;
and the organisation directory's search. Known answers: the sub-district is found with shapely from the
features read through the OGC API, not by the service's SQL."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from shapely.geometry import box, shape

from app.auth.policy import Role
from tests.api.test_projects import new_project
from tests.conftest import DemoEnv

PLACES = {
    "pinghu": "平湖街道", "bantian": "坂田街道", "buji": "布吉街道", "nanwan": "南湾街道",
    "jihua": "吉华街道", "henggang": "横岗街道", "yuanshan": "园山街道", "longgang": "龙岗街道",
    "longcheng": "龙城街道", "baolong": "宝龙街道", "pingdi": "坪地街道",
}  # fmt: skip


@pytest.fixture(scope="module")
def listed(demo: DemoEnv) -> dict[str, Any]:
    """Two stored reports in a known sub-district: one for a registered project, one without a project."""
    admin = demo.account(Role.SYSTEM_ADMIN)
    items = demo.client.get(
        "/ogc/collections/admin_subdistrict/items", params={"limit": 1}, headers=admin.headers
    ).json()["features"]
    feature = items[0]
    inside = shape(feature["geometry"]).representative_point()
    square = box(inside.x - 0.0004, inside.y - 0.0004, inside.x + 0.0004, inside.y + 0.0004)
    # Independent: the square lies wholly in that sub-district, so any point on its surface does too.
    assert shape(feature["geometry"]).contains(square)
    project = new_project(
        demo.client, admin, name="平湖第二实验学校", owner_dept_code="education", unit_org_code="works"
    )
    reports = []
    for code in (project["code"], None):
        body = {"footprint": shapely.geometry.mapping(square), "project_type": "school", "project_code": code}
        r = demo.client.post("/api/pre-evaluations", json=body, headers=admin.headers)
        assert r.status_code == 201, r.text
        reports.append(r.json())
    place = feature["properties"]["subdistrict"]
    return {"admin": admin, "project": project, "reports": reports, "place": place}


def test_a_report_line_names_its_project_type_and_place(demo: DemoEnv, listed: dict[str, Any]) -> None:
    admin, project = listed["admin"], listed["project"]
    with_project, without = listed["reports"]
    rows = demo.client.get("/api/pre-evaluations", params={"limit": 2}, headers=admin.headers).json()
    assert [r["id"] for r in rows] == [without["id"], with_project["id"]]  # newest first
    line = rows[1]
    assert (line["project_code"], line["project_name"]) == (project["code"], "平湖第二实验学校")
    assert (line["project_type_zh"], line["project_type_en"]) == ("学校", "School")
    assert (line["subdistrict"], line["subdistrict_zh"]) == (listed["place"], PLACES[listed["place"]])
    assert rows[0]["project_name"] is None and rows[0]["subdistrict"] == listed["place"]


def test_search_and_pages(demo: DemoEnv, listed: dict[str, Any]) -> None:
    admin, project = listed["admin"], listed["project"]
    with_project, without = listed["reports"]

    def ids(**params: Any) -> list[int]:
        r = demo.client.get("/api/pre-evaluations", params=params, headers=admin.headers)
        assert r.status_code == 200, r.text
        return [row["id"] for row in r.json()]

    assert ids(q="第二实验") == [with_project["id"]]  # project name
    assert ids(q=project["code"]) == [with_project["id"]]  # project code
    assert ids(q=f"#{without['id']}") == [without["id"]]  # report number
    place = ids(q=PLACES[listed["place"]], limit=500)  # the sub-district's Chinese name
    assert {with_project["id"], without["id"]} <= set(place)
    assert ids(q="100%_no_such") == []  # wildcards are literal
    first, second = ids(limit=1), ids(limit=1, offset=1)
    assert first == [without["id"]] and second == [with_project["id"]]


@pytest.mark.parametrize(
    "params",
    [{"q": ""}, {"q": "x" * 101}, {"offset": -1}, {"offset": "a"}, {"limit": 0}, {"limit": 501}],
)
def test_bad_list_parameters_are_refused(
    demo: DemoEnv, listed: dict[str, Any], params: dict[str, Any]
) -> None:
    r = demo.client.get("/api/pre-evaluations", params=params, headers=listed["admin"].headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"


def test_the_organisation_directory_is_searchable(demo: DemoEnv, listed: dict[str, Any]) -> None:
    h = listed["admin"].headers
    every = demo.client.get("/api/orgs", headers=h).json()
    found = demo.client.get("/api/orgs", params={"q": "works"}, headers=h).json()
    words = [o["code"] + o["name_en"].lower() + o["name_zh"] for o in every]
    expected = [o["code"] for o, w in zip(every, words, strict=True) if "works" in w]
    assert [o["code"] for o in found] == expected and expected
    by_name = demo.client.get("/api/orgs", params={"q": every[0]["name_zh"]}, headers=h).json()
    assert every[0]["code"] in [o["code"] for o in by_name]
    paged = demo.client.get("/api/orgs", params={"limit": 2, "offset": 1}, headers=h).json()
    assert [o["code"] for o in paged] == [o["code"] for o in every[1:3]]
    for params in ({"q": ""}, {"limit": 0}, {"offset": -1}, {"q": "x" * 101}):
        r = demo.client.get("/api/orgs", params=params, headers=h)
        assert r.status_code == 422, params
