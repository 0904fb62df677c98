"""The searchable pickers (reports, organisations) in headless Chromium (the demand map: test_demand_map.py).

Keys are typed as key events (CDP Input.insertText / Input.dispatchKeyEvent) and clicks are real mouse
events. What a search must show is worked out here from what the test created (names, codes, type labels
from the rule file, sub-districts from the catalog file and the polygons the footprints were put in), never
from the product's own search.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import shapely
import yaml

from app.auth.policy import Role
from app.orgs import service as orgs
from layers.audit import Actor
from tests.browser import test_projects_page as projects_page
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog
from tests.browser.test_projects_page import click, new_project, open_projects, set_value
from tests.conftest import DemoEnv
from tests.helpers import unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")

ROOT = Path(__file__).resolve().parents[2]
TYPES = ("school", "hospital", "park", "road")
KEYS = {"ArrowDown": 40, "ArrowUp": 38, "Enter": 13}
# The approval page's fixtures: its live server (module scope) and a desktop page.
server, page = projects_page.server, projects_page.page


# --- typing and clicking as a person does -------------------------------------------------------------------


def type_text(page: Page, text: str) -> None:
    """Type text into the focused field (what an IME commits: one input event)."""
    page.send("Input.insertText", {"text": text}, session=page.session)


def press(page: Page, key: str) -> None:
    """Press and release a key; Enter carries its text, so a form would be sent if nothing stopped it."""
    down: dict[str, Any] = {"type": "rawKeyDown", "key": key, "code": key, "windowsVirtualKeyCode": KEYS[key]}
    if key == "Enter":
        down.update(type="keyDown", text="\r", unmodifiedText="\r")
    page.send("Input.dispatchKeyEvent", down, session=page.session)
    up = {"type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": KEYS[key]}
    page.send("Input.dispatchKeyEvent", up, session=page.session)


def box_of(page: Page, selector: str) -> tuple[float, float, float, float]:
    """Scroll a node into view; its (left, top, width, height) in the viewport."""
    return tuple(
        page.js(
            f"(n => {{ n.scrollIntoView({{block: 'center'}}); const r = n.getBoundingClientRect();"
            f" return [r.left, r.top, r.width, r.height]; }})(document.querySelector({json.dumps(selector)}))"
        )
    )


def tap(page: Page, selector: str) -> None:
    """A real click in the middle of a node."""
    left, top, width, height = box_of(page, selector)
    page.click_at(left + width / 2, top + height / 2)


def search_in(page: Page, field: str, words: str) -> None:
    """Click a picker's search box, clear it and type ``words``."""
    search = f".picker:has(#{field}) .picker-search"
    tap(page, search)
    assert page.js(f"document.activeElement === document.querySelector({json.dumps(search)})")
    page.js(f"document.querySelector({json.dumps(search)}).select()")  # what is typed replaces it
    type_text(page, words)


def shown(page: Page, field: str) -> list[str]:
    """Values of the options the picker's search leaves shown, top to bottom."""
    return list(
        page.js(f"[...document.querySelectorAll('#{field} option')].filter(o => !o.hidden).map(o => o.value)")
    )


# --- the report picker --------------------------------------------------------------------------------------


def subdistricts(demo: DemoEnv) -> dict[str, tuple[tuple[str, str], Any]]:
    """Sub-district code → ((Chinese, English) label from the catalog file, polygon in lon/lat)."""
    catalog = yaml.safe_load((ROOT / "layers/catalog/data/01_admin.yaml").read_text(encoding="utf-8"))
    entry = next(x for x in catalog["layers"] if x["code"] == "admin_subdistrict")
    labels = {
        c["value"]: (c["label_zh"], c["label_en"])
        for a in entry["attributes"]
        if a["name"] == "subdistrict"
        for c in a["codes"]
    }
    with psycopg.connect(demo.settings.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT f.props ->> 'subdistrict', ST_AsBinary(ST_Transform(f.geom, 4326)) FROM basemap.feature f"
            " JOIN basemap.layer l ON f.version_id = l.current_version WHERE l.code = 'admin_subdistrict'"
        ).fetchall()
    return {code: (labels[code], shapely.from_wkb(bytes(wkb))) for code, wkb in rows}


def square_inside(polygon: Any) -> dict[str, Any]:
    """A 30 m square around a point well inside the polygon (lon/lat GeoJSON)."""
    point = polygon.representative_point()
    half = 0.00015
    square = shapely.box(point.x - half, point.y - half, point.x + half, point.y + half)
    assert polygon.contains(square)
    return shapely.geometry.mapping(square)


@pytest.fixture(scope="module")
def reports(demo: DemoEnv) -> dict[str, Any]:
    """33 reports of a project unit of its own: three projects, four types, every sub-district."""
    code = unique("unit")
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        orgs.create_org(
            conn,
            Actor.system("tests"),
            orgs.OrganisationCreate(code=code, name_zh=f"选择器单位{code}", kind=orgs.OrgKind.PROJECT_UNIT),
        )
    unit = demo.account(Role.PROJECT_UNIT, code)
    tag = unique("t")[-6:]
    projects = [
        new_project(demo, unit, f"{tag}{name}", plan=True) for name in ("北区小学", "南区医院", "北区公园")
    ]
    rules = yaml.safe_load((ROOT / "analysis/rules/_ruleset.yaml").read_text(encoding="utf-8"))
    type_labels = {k: (v["name_zh"], v["name_en"]) for k, v in rules["project_types"].items()}
    places = sorted(subdistricts(demo).items())
    made = []
    for i in range(33):
        project, kind, (_, (label, polygon)) = (
            projects[i % 3],
            TYPES[i % 4],
            places[(i // 3) % len(places)],
        )
        r = demo.client.post(
            "/api/pre-evaluations",
            json={"footprint": square_inside(polygon), "project_type": kind, "project_code": project["code"]},
            headers=unit.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        made.append(
            {
                "id": body["id"],
                "name": project["name"],
                "code": project["code"],
                "type": type_labels[kind][0],
                "type_en": type_labels[kind][1],
                "place": label[0],
                "place_en": label[1],
                "created_at": body["created_at"],
                "verdict": body["report"]["verdict"],
            }
        )
    return {"unit": unit, "tag": tag, "projects": projects, "reports": made, "places": places}


def expected(made: list[dict[str, Any]], words: str) -> set[str]:
    """The reports whose name, code, type or place (either language) holds every typed word; "#n" is report n
    alone."""
    if words.startswith("#"):
        return {str(r["id"]) for r in made if str(r["id"]) == words[1:]}
    terms = words.lower().split()
    return {
        str(r["id"])
        for r in made
        if all(
            any(t in str(r[k]).lower() for k in ("name", "code", "type", "type_en", "place", "place_en"))
            for t in terms
        )
    }


def test_the_report_picker_narrows_by_name_code_place_and_number_and_links_the_choice(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv, reports: dict[str, Any]
) -> None:
    url, log = server
    made, tag = reports["reports"], reports["tag"]
    project = reports["projects"][0]
    open_projects(page, url, reports["unit"])
    click(page, f"#pj-projects tr[data-code='{project['code']}'] td[data-col=name] button")
    page.wait_for("document.querySelector('#pj-link-report option')")
    field = "pj-link-report"
    assert sorted(shown(page, field)) == sorted(str(r["id"]) for r in made)  # the unit's own, all of them

    # Each option names the project (name and code), type, place, date and verdict.
    zone = ZoneInfo(page.js("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    texts = dict(
        page.js(f"[...document.querySelectorAll('#{field} option')].map(o => [o.value, o.textContent])")
    )
    for r in made:
        day = datetime.fromisoformat(r["created_at"]).astimezone(zone).date().isoformat()
        parts = texts[str(r["id"])].split(" · ")
        assert parts[:6] == [
            f"#{r['id']}",
            f"{r['name']}（{r['code']}）",
            r["type"],
            r["place"],
            day,
            r["verdict"],
        ]

    # Typing narrows the list to exactly the reports that match: part of a name, a code, a place, a number.
    place = reports["places"][1][1][0][0][:2]  # "坂田" of "坂田街道": part of a sub-district's name
    # A number that begins others (#3 of #30…#33) when there is one: a search by digits would show them too.
    ids = [str(r["id"]) for r in made]
    second = next(
        (r for r in made if any(o != str(r["id"]) and o.startswith(str(r["id"])) for o in ids)), made[7]
    )
    for words in (
        "北区",
        f"{tag}南区",
        reports["projects"][2]["code"],
        place,
        f"北区 {place}",
        f"#{second['id']}",
    ):
        search_in(page, field, words)
        want = expected(made, words)
        assert want, words
        assert set(shown(page, field)) == want, words
        total = len(made)
        assert (
            page.js(
                f"document.querySelector('#{field}').parentElement.querySelector('.picker-count').textContent"
            )
            == f"显示 {len(want)} / {total} 项"
        )
    # A number is that report alone, not every number that starts with its digits or a date holding them.
    assert shown(page, field) == [str(second["id"])]

    # ↓/↑ move within the shown options, Enter keeps the choice and sends nothing.
    search_in(page, field, "北区")
    order = shown(page, field)
    assert len(order) >= 3
    posts = len([r for r in log.seen if r[0] == "POST"])
    for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp"):
        press(page, key)
    assert page.js(f"document.getElementById('{field}').value") == order[1]
    search = f"document.querySelector('.picker:has(#{field}) .picker-search')"
    assert page.js(f"{search}.getAttribute('aria-activedescendant')") == page.js(
        f"document.getElementById('{field}').selectedOptions[0].id"
    )
    press(page, "Enter")
    assert page.js(f"document.getElementById('{field}').value") == order[1]
    assert page.js(f"document.activeElement === {search}")
    assert len([r for r in log.seen if r[0] == "POST"]) == posts  # nothing sent by Enter

    # Typing narrows away the chosen report: Enter then chooses the first shown, not the hidden one.
    search_in(page, field, "南区")
    press(page, "Enter")
    south = shown(page, field)
    assert page.js(f"document.getElementById('{field}').value") == south[0]
    press(page, "ArrowDown")
    chosen = south[1]
    assert page.js(f"document.getElementById('{field}').value") == chosen

    # Adding links that report (the audit says which), as the server heard it.
    tap(page, "#pj-link-submit")
    page.wait_for("document.querySelector('#pj-link-notice')?.textContent")
    assert ("POST", f"/api/projects/{project['id']}/plan/pre-evaluations/{chosen}") in [
        r[:2] for r in log.seen
    ]
    admin = demo.account(Role.AUDIT_ADMIN)
    r = demo.client.get(
        f"/api/audit?object_type=project&object_id={project['id']}&action=plan.add_from_pre_evaluation",
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert [e["after"]["pre_evaluation_id"] for e in r.json()["events"]] == [int(chosen)]

    # In English the options name the type and the place in English, and an English place name finds them.
    page.js("document.getElementById('lang').click()")
    page.wait_for(
        "document.documentElement.lang === 'en' && document.querySelector('#pj-link-report option')"
    )
    texts = dict(
        page.js(f"[...document.querySelectorAll('#{field} option')].map(o => [o.value, o.textContent])")
    )
    assert {tuple(texts[str(r["id"])].split(" · ")[2:4]) for r in made} == {
        (r["type_en"], r["place_en"]) for r in made
    }
    english = reports["places"][2][1][0][1]
    search_in(page, field, english.lower())
    assert set(shown(page, field)) == expected(made, english) != set()
    count = page.js(f"document.querySelector('.picker:has(#{field}) .picker-count').textContent")
    assert count == f"{len(expected(made, english))} of {len(made)} shown"


def test_the_report_picker_is_usable_on_a_phone(
    server: tuple[str, RequestLog], demo: DemoEnv, reports: dict[str, Any]
) -> None:
    url, _ = server
    made, project = reports["reports"], reports["projects"][1]
    with Page(width=390, height=844) as page:
        open_projects(page, url, reports["unit"])
        click(page, f"#pj-projects tr[data-code='{project['code']}'] td[data-col=name] button")
        page.wait_for("document.querySelector('#pj-link-report option')")
        field = "pj-link-report"
        search_in(page, field, reports["projects"][1]["code"])
        want = expected(made, reports["projects"][1]["code"])
        assert set(shown(page, field)) == want
        assert page.js("document.documentElement.scrollWidth") <= 390
        left, top, width, height = box_of(page, f"#{field}")
        assert left >= 0 and left + width <= 390 and height >= 80  # a list of rows, inside the screen
        # A tap on the second shown row chooses it.
        target = shown(page, field)[1]
        ox, oy, ow, oh = box_of(page, f"#{field} option[value='{target}']")
        assert oh > 0 and 0 <= oy and oy + oh <= 844
        page.click_at(ox + min(ow, 200) / 2, oy + oh / 2)
        assert page.js(f"document.getElementById('{field}').value") == target


# --- the organisation picker --------------------------------------------------------------------------------


def test_the_owner_is_picked_by_part_of_its_name_and_registered(
    page: Page, server: tuple[str, RequestLog], demo: DemoEnv
) -> None:
    url, log = server
    tag = unique("o")[-6:]
    made, ids = {}, {}
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        for suffix, kind in (
            ("甲局", orgs.OrgKind.DEPARTMENT),
            ("乙局", orgs.OrgKind.DEPARTMENT),
            ("丙公司", orgs.OrgKind.PROJECT_UNIT),
        ):
            code = unique("org")
            name = f"选择器{tag}{suffix}"
            org = orgs.create_org(
                conn, Actor.system("tests"), orgs.OrganisationCreate(code=code, name_zh=name, kind=kind)
            )
            made[code] = (name, kind)
            ids[code] = org.id
    admin = demo.account(Role.SYSTEM_ADMIN)  # sees both pickers: the owner and the unit
    open_projects(page, url, admin)
    click(page, "#pj-new")
    page.wait_for("document.getElementById('pj-form')")

    # Only departments may own a project: the tag finds the two, not the company.
    search_in(page, "pj-f-owner", tag)
    departments = {c for c, (_, k) in made.items() if k == orgs.OrgKind.DEPARTMENT}
    assert set(shown(page, "pj-f-owner")) == departments
    search_in(page, "pj-f-owner", f"{tag}乙")
    second = next(c for c, (n, _) in made.items() if n.endswith("乙局"))
    assert shown(page, "pj-f-owner") == [second]
    assert (
        page.js(f"document.querySelector('#pj-f-owner option[value=\"{second}\"]').textContent")
        == made[second][0]
    )
    posts = len([r for r in log.seen if r[:2] == ("POST", "/api/projects")])
    press(page, "ArrowDown")
    press(page, "Enter")
    assert page.js("document.getElementById('pj-f-owner').value") == second
    assert len([r for r in log.seen if r[:2] == ("POST", "/api/projects")]) == posts  # Enter sent nothing
    assert page.js("document.getElementById('pj-form-error').textContent") == ""
    # The unit is picked the same way (project units and sub-districts).
    search_in(page, "pj-f-unit", f"{tag}丙")
    third = next(c for c, (n, _) in made.items() if n.endswith("丙公司"))
    assert shown(page, "pj-f-unit") == [third]
    press(page, "ArrowDown")
    press(page, "Enter")

    name = f"选择器登记{tag}"
    for selector, value in [
        ("#pj-f-name", name),
        ("#pj-f-type", "house_building"),
        ("#pj-f-investment", "100"),
        ("#pj-f-funding", "区财政"),
        ("#pj-f-start", "2026-10-12"),
    ]:
        set_value(page, selector, value)
    tap(page, "#pj-f-submit")
    page.wait_for("document.querySelector('#pj-notice.pj-ok')")
    r = demo.client.get("/api/projects", headers=admin.headers)
    assert r.status_code == 200, r.text
    project = next(p for p in r.json() if p["name"] == name)
    assert (project["owner_dept_id"], project["unit_org_id"]) == (ids[second], ids[third])
