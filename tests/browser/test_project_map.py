"""The project library on the map in headless Chromium: the live layer in the tree, a click on a project's
footprint opens the project, and the project page draws its footprint history (three versions, the current
one emphasised) — in Chinese and English, on a desktop and a narrow screen.

A project unit of its own registers one project and moves its footprint twice (three squares side by side);
another unit's project lies right beside it and must never be found by this unit's click.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from app.auth.policy import Role
from app.orgs import service as orgs
from layers.audit import Actor
from tests.browser import test_projects_page as projects_page
from tests.browser.cdp import CHROMIUM, Page
from tests.browser.live import RequestLog
from tests.browser.mapapp import assert_offline, only, open_map, text
from tests.browser.test_map_app import click_map_centre
from tests.conftest import DemoEnv
from tests.helpers import Account, unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is required")
server = projects_page.server  # the demo's app, served live (module scope)
CODE = "proj_library"
SIDE = 0.0004
# Lower-left corners of the three versions (oldest first) and of the neighbour's footprint.
VERSIONS = [(114.24000, 22.66000), (114.24060, 22.66000), (114.24120, 22.66000)]
NEIGHBOUR = (114.24180, 22.66000)
MAP = "document.getElementById('pj-footprint-map')"


def _square(corner: tuple[float, float]) -> dict[str, Any]:
    lon, lat = corner
    ring = [[lon, lat], [lon + SIDE, lat], [lon + SIDE, lat + SIDE], [lon, lat + SIDE], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _unit(demo: DemoEnv) -> Account:
    code = unique("unit")
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        orgs.create_org(
            conn,
            Actor.system("tests"),
            orgs.OrganisationCreate(code=code, name_zh=f"测试建设单位{code}", kind=orgs.OrgKind.PROJECT_UNIT),
        )
    return demo.account(Role.PROJECT_UNIT, code)


def _project(demo: DemoEnv, unit: Account, name: str, corners: list[tuple[float, float]]) -> dict[str, Any]:
    body = {
        "name": name,
        "project_type": "park_greening",
        "owner_dept_code": "education",
        "investment_wan": "900",
        "funding_source": "区财政",
    }
    r = demo.client.post("/api/projects", json=body, headers=unit.headers)
    assert r.status_code == 201, r.text
    project = dict(r.json())
    for i, corner in enumerate(corners):
        r = demo.client.post(
            f"/api/projects/{project['id']}/footprints",
            json={"footprint": _square(corner), "note": f"第{i + 1}稿"},
            headers=unit.headers,
        )
        assert r.status_code == 201, r.text
    return project


@pytest.fixture(scope="module")
def arranged(demo: DemoEnv) -> Iterator[dict[str, Any]]:
    unit = _unit(demo)
    project = _project(demo, unit, unique("龙岗口袋公园"), VERSIONS)
    neighbour_unit = _unit(demo)
    neighbour = _project(demo, neighbour_unit, unique("邻居的公园"), [NEIGHBOUR])
    history = demo.client.get(f"/api/projects/{project['id']}/footprints", headers=unit.headers).json()
    assert len(history) == 3 and history[0]["superseded_at"] is None
    yield {"unit": unit, "project": project, "neighbour": neighbour, "current": history[0]["id"]}


def _centre(corner: tuple[float, float]) -> tuple[float, float]:
    return corner[0] + SIDE / 2, corner[1] + SIDE / 2


def _click_project(page: Page, url: str, unit: Account, corner: tuple[float, float]) -> None:
    lon, lat = _centre(corner)
    open_map(page, url, unit, view=f"#map=18/{lat:.6f}/{lon:.6f}")
    # The live layer is in the tree, in the projects group (19).
    assert page.js(f"document.getElementById('layer-{CODE}')?.closest('details')?.dataset.group") == "19"
    only(page, CODE)
    click_map_centre(page)


def _open_from_map(page: Page, url: str, arranged: dict[str, Any]) -> None:
    project = arranged["project"]
    _click_project(page, url, arranged["unit"], VERSIONS[-1])
    found = f"#identify article[data-layer='{CODE}'][data-fid='{project['id']}']"
    page.wait_for(f"document.querySelector({json.dumps(found)} + ' .pj-open-project')", timeout_s=30)
    page.js(f"document.querySelector({json.dumps(found)} + ' .pj-open-project').click()")
    page.wait_for("document.body.dataset.view === 'projects'")
    page.wait_for(
        f"document.getElementById('pj-project-name')?.textContent === {json.dumps(project['name'])}"
    )
    page.wait_for(f"{MAP}?.dataset.loaded === 'true'", timeout_s=60)


def _history_map(page: Page) -> dict[str, Any]:
    return dict(
        page.js(
            f"(m => ({{versions: m.dataset.versions, drawn: m.dataset.drawn, current: m.dataset.current,"
            " legend: [...m.querySelectorAll('li[data-footprint]')].map(li => li.textContent.trim()),"
            " canvas: m.querySelector('canvas')?.width ?? 0}))"
            f"({MAP})"
        )
    )


@pytest.mark.parametrize("width", [1400, 400])
def test_a_click_on_a_footprint_opens_the_project_and_its_history_map(
    server: tuple[str, RequestLog], arranged: dict[str, Any], width: int
) -> None:
    url, _ = server
    with Page(width=width, height=900 if width > 500 else 780) as page:
        _open_from_map(page, url, arranged)
        shown = _history_map(page)
        # Three versions drawn, the current (newest) one emphasised; each labelled with number and date.
        assert (shown["versions"], shown["drawn"], shown["current"]) == ("3", "3", str(arranged["current"]))
        assert shown["canvas"] > 0
        assert [item.split(" · ")[0] for item in shown["legend"]] == ["第 3 版", "第 2 版", "第 1 版"]
        assert shown["legend"][0].endswith("现行") and "被替换" in shown["legend"][2]
        # The same in English.
        page.js("document.getElementById('lang').click()")
        page.wait_for("document.documentElement.lang === 'en'")
        page.wait_for(f"{MAP}?.querySelector('h4')?.textContent === 'Footprint history map'")
        legend = _history_map(page)["legend"]
        assert [item.split(" · ")[0] for item in legend] == ["Version 3", "Version 2", "Version 1"]
        assert legend[0].endswith("current")
        # Back on the map, in English: the identify block's link reads in English too.
        page.js("document.getElementById('view-map').click()")
        page.wait_for("document.body.dataset.view === 'map'")
        found = f"#identify article[data-layer='{CODE}'] .pj-open-project"
        page.wait_for(f"document.querySelector({json.dumps(found)})?.textContent === 'Open project'")
        page.js("document.getElementById('lang').click()")
        page.wait_for("document.documentElement.lang === 'zh-CN'")
        assert_offline(page, url)


def test_another_units_footprint_is_not_found_by_a_click(
    server: tuple[str, RequestLog], arranged: dict[str, Any]
) -> None:
    url, _ = server
    with Page(width=1400, height=900) as page:
        _click_project(page, url, arranged["unit"], NEIGHBOUR)
        page.wait_for(
            "document.getElementById('identify').textContent === '该点没有已勾选图层的要素。'", timeout_s=30
        )
        assert page.js("document.querySelectorAll('#identify article').length") == 0
        assert text(page, "#identify") == "该点没有已勾选图层的要素。"
