"""Every HTML page escapes what users wrote and carries a strict Content-Security-Policy.

Stored text (a project name, unit codes, blocker titles, a pre-evaluation's project code, layer names and
messages in a report's folium map, feature values) holding script, attribute and <title> break-outs is read
back with a real HTML parser: no script runs but the served files and the folium map's own inline code
(listed by SHA-256 in the page's policy, nothing else), no element has an event handler, and the text comes
back as text, exactly.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from app.auth.policy import Role
from app.ogc import html as ogc_html
from tests.api.test_demolition_ledger import new_unit
from tests.api.test_demolition_tiles import SQUARE
from tests.api.test_projects import new_project
from tests.conftest import DemoEnv
from tests.html_check import (
    PAYLOADS,
    Parsed,
    assert_inert,
    event_handlers,
    folium_texts,
    parse,
    sha256_source,
)
from tests.preeval_world import CANDIDATES, geojson

NAME = "".join(PAYLOADS)
NOTHING = "default-src 'none'; frame-ancestors 'none'"
# A break-out of folium's JavaScript template literals and of a JSON string, besides the HTML ones.
FOLIUM_PAYLOAD = '`${window.pwned=1}`\\"</script><script>window.pwned=2</script>'
# The grades as the report names them (no rule ids where people read).
GRADES_ZH = {"prohibited": "禁止", "conditional": "有条件", "advisory": "提示", "info": "统计"}


def _policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as directive → sources."""
    out: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        out[name] = sources
    return out


def _assert_strict_page_policy(header: str | None, parsed: Parsed | None = None) -> None:
    """The app's page policy; with a page, its script-src/style-src also list exactly its inline code."""
    assert header, "no Content-Security-Policy"
    policy = _policy(header)
    scripts = [sha256_source(s.text) for s in parsed.all("script") if "src" not in s.attrs] if parsed else []
    styles = [sha256_source(s.text) for s in parsed.all("style")] if parsed else []
    assert policy["script-src"] == ["'self'", *scripts] and policy["style-src"] == ["'self'", *styles]
    assert policy["default-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in header and "*" not in header and "http" not in header


def _demolition_summary(client: TestClient, make_account: Any) -> tuple[str, Any]:
    """A project unit's project named with every payload; units and a blocker holding them too."""
    unit = make_account(Role.PROJECT_UNIT, "works")
    coord, viewer = make_account(Role.COORDINATOR, "land-prep"), make_account(Role.VIEWER, "pnr")
    project = new_project(client, unit, owner_dept_code="education", name=NAME)
    new_unit(client, coord, project["id"], PAYLOADS[0], geometry=SQUARE, address=PAYLOADS[1])
    r = client.post(
        f"/api/demolition/projects/{project['id']}/blockers",
        json={
            "category": "grave",
            "title": PAYLOADS[2],
            "department_code": "land-prep",
            "deadline": "2026-01-01",
        },
        headers=coord.headers,
    )
    assert r.status_code == 201, r.text
    r = client.get(f"/api/demolition/projects/{project['id']}/summary.html", headers=viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    return r.text, r


def test_demolition_summary_escapes_a_stored_project_name(client: TestClient, make_account: Any) -> None:
    page, response = _demolition_summary(client, make_account)
    header = response.headers.get("content-security-policy")
    parsed = assert_inert(page, header)
    # The stored script injection of the issue: the name went into <title> unescaped.
    assert [t.text for t in parsed.all("title")] == [f"征拆进度 {NAME}"]
    assert [h.text for h in parsed.all("h1")] == [f"征拆进度报告：{NAME}"]
    assert PAYLOADS[2] in [td.text for td in parsed.all("td")]  # the blocker's title, as text
    # The folium map's tooltip shows the unit code as text (folium's templates do not escape).
    features, names = folium_texts(parsed)
    assert features == [{"code": PAYLOADS[0], "status": "调查"}] and names == []
    _assert_strict_page_policy(header, parsed)


def test_report_escapes_the_project_code(preeval_world: DemoEnv) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    for payload in PAYLOADS:
        created = preeval_world.client.post(
            "/api/pre-evaluations",
            headers=unit.headers,
            json={"footprint": geojson(CANDIDATES["乙"]), "project_type": "school", "project_code": payload},
        )
        assert created.status_code == 201, created.text
        url = f"/api/pre-evaluations/{created.json()['id']}/report.html"
        r = preeval_world.client.get(url, headers=unit.headers)
        header = r.headers.get("content-security-policy")
        parsed = assert_inert(r.text, header)
        assert payload in [td.text for td in parsed.all("td")]
        assert len(folium_texts(parsed)[1]) >= 2  # layers: the conflicts and the footprint
        _assert_strict_page_policy(header, parsed)
        # The download carries Leaflet, print.js and folium's scripts inline (it opens offline), nothing else.
        download = parse(preeval_world.client.get(url, params={"download": 1}, headers=unit.headers).text)
        assert event_handlers(download) == []
        assert [s for s in download.all("script") if s.attrs] == [] and download.all("link") == []
        inline = [s.text for s in download.all("script")]
        assert len(inline) == 4 and all(payload not in text for text in inline)
        assert "L.map(" in inline[-1] and "window.print()" in inline[-2]
        # Opened from disk it has no header: a <meta> policy allows exactly those scripts and styles.
        (meta,) = [m for m in download.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
        policy = _policy(str(meta.attrs["content"]))
        assert policy["script-src"] == [sha256_source(text) for text in inline]
        assert policy["style-src"] == [sha256_source(s.text) for s in download.all("style")]
        assert policy["default-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]


def test_report_map_shows_layer_names_and_messages_as_text(preeval_world: DemoEnv) -> None:
    """Layer names and rule messages reach folium's layer control and tooltips: as text, exactly."""
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school"},
    )
    assert created.status_code == 201, created.text
    report_id, report = created.json()["id"], created.json()["report"]
    names = [PAYLOADS[0], PAYLOADS[1], FOLIUM_PAYLOAD]
    for n, finding in enumerate(report["findings"]):
        finding["layer_name_zh"] = names[n % 3]
        finding["message_zh"] = names[(n + 1) % 3]
        for m, hit in enumerate(finding["features"]):  # a tooltip shows its own feature's message
            hit["message_zh"] = names[(n + m + 2) % 3]
    with psycopg.connect(preeval_world.settings.owner_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE project.pre_evaluation SET report = %s WHERE id = %s", (Jsonb(report), report_id)
        )
    r = preeval_world.client.get(f"/api/pre-evaluations/{report_id}/report.html", headers=unit.headers)
    header = r.headers.get("content-security-policy")
    parsed = assert_inert(r.text, header)
    _assert_strict_page_policy(header, parsed)
    features, layers = folium_texts(parsed)
    # Known answers: one layer and one tooltip per conflict feature, in the order of the findings.
    expected = [(f, h) for f in report["findings"] for h in sorted(f["features"], key=lambda h: h["fid"])]
    assert len(expected) >= 3
    assert layers == [
        f"{report['findings'].index(f) + 1}. {f['layer_name_zh']}（{h['fid']}）· {GRADES_ZH[f['grade']]}"
        for f, h in expected
    ] + ["用地范围"]
    tips = [f"{f['layer_name_zh']}（{h['fid']}）：{h['message_zh']}" for f, h in expected]
    assert features == [{"tooltip": t} for t in tips] + [{}]


def test_ogc_pages_escape_feature_values() -> None:
    rows = [{"id": PAYLOADS[0], "href": "/ogc/x?f=html", "geometry": "Polygon", "cells": PAYLOADS}]
    columns = [(p, p) for p in PAYLOADS]
    page = ogc_html.render(
        "items", "/ogc", NAME, [], rows=rows, columns=columns, matched=1, offset=0, crumbs=[(NAME, "/ogc")]
    )
    parsed = assert_inert(page.body.decode())
    assert [t.text for t in parsed.all("title")] == [f"{NAME} · 多规合一底图要素服务"]
    assert [td.text for td in parsed.all("td")][2:] == PAYLOADS
    assert [th.attrs["title"] for th in parsed.all("th") if "title" in th.attrs] == PAYLOADS


def test_every_page_carries_a_strict_policy_and_other_responses_allow_nothing(
    client: TestClient, make_account: Any
) -> None:
    planner = make_account(Role.PLANNER)
    for path, headers in (("/", {}), ("/api/docs", {}), ("/ogc?f=html", planner.headers)):
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        _assert_strict_page_policy(r.headers.get("content-security-policy"))
        assert_inert(r.text)
    for path in ("/api/health", "/api/openapi.json", "/assets/print/print.css", "/api/nowhere"):
        assert client.get(path).headers.get("content-security-policy") == NOTHING, path
    # A script's policy is its own when it runs as a worker: it gets the page policy.
    script = client.get("/assets/print/print.js")
    assert script.status_code == 200
    _assert_strict_page_policy(script.headers.get("content-security-policy"))


def test_a_revalidated_script_keeps_its_policy(client: TestClient) -> None:
    """A 304 carries no policy. A cache merges a 304's headers into the stored response (RFC 9111 §4.3.4):
    a policy chosen for "no Content-Type" would replace the script's and leave the map's tile worker with
    ``default-src 'none'`` after a reload (seen in headless Chromium: every tile fetch blocked)."""
    path = "/vendor/maplibre-gl/maplibre-gl-worker.mjs"
    first = client.get(path)
    assert first.status_code == 200
    _assert_strict_page_policy(first.headers.get("content-security-policy"))
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert "content-security-policy" not in again.headers
    # The app's own pages and scripts revalidate the same way.
    page = client.get("/js/map.js")
    assert client.get("/js/map.js", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
