"""The one window's printed documents: the receipt's promised dates over the Spring Festival, its materials,
gaps and contact; the one consolidated correction letter; the issuance notice; PDFs read back with pypdf;
pages inert with every payload escaped; who may read them."""

from __future__ import annotations

import io
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from pypdf import PdfReader

from app.auth.policy import Role
from app.csp import PAGE_POLICY
from app.orgs.service import OrgKind
from app.window.documents import material_names
from tests.html_check import PAYLOADS, assert_inert, parse
from tests.window_docs_world import WINDOW_NAME, Accepted, accepted_application, attach_materials

NAME = "".join(PAYLOADS)
# Promised completion dates, counted by hand on the 2026 calendar (app/calendar/data/cn_holidays.json):
# accepted Thu 2026-02-12; the start day never counts. Working days after it: 1 Fri 02-13, 2 Sat 02-14
# (春节调休上班), then 春节 02-15…02-23 are off, 3 Tue 02-24, 4 02-25, 5 02-26, 6 Fri 02-27, 7 Sat 02-28
# (调休上班), 8 Mon 03-02, 9 03-03, 10 Wed 03-04, 11 03-05, 12 03-06, 13 Mon 03-09, 14 03-10, 15 Wed 03-11,
# 16 03-12, 17 03-13, 18 Mon 03-16, 19 03-17, 20 Wed 03-18. (Weekdays only would give 10 → 02-26.)
DUE = {10: "2026-03-04", 15: "2026-03-11", 20: "2026-03-18"}
# The stage's items at 8 000 万元 (house_building.yaml): name, department, promised working days.
EXPECTED_ITEMS = [
    ("项目建议书批复", "龙岗区发展和改革局", 10),
    ("用地预审与选址意见书", "规划和自然资源局龙岗管理局", 20),
    ("节能审查", "龙岗区发展和改革局", 10),
    ("社会稳定风险评估", "龙岗区发展和改革局", 10),
    ("可行性研究报告批复", "龙岗区发展和改革局", 20),
    ("环境影响评价文件审批", "深圳市生态环境局龙岗管理局", 20),
    ("水土保持方案审批", "龙岗区水务局", 15),
    ("建设用地规划许可证", "规划和自然资源局龙岗管理局", 10),
]


def _name(code: str) -> str:
    """A material's checklist name where the template lists it (the code until templates carry materials)."""
    return material_names("house_building").get(code, (code, code))[0]


def _cells(page: str) -> list[str]:
    return [td.text for td in parse(page).all("td")]


def _row(cells: list[str], first: str, width: int) -> list[str]:
    at = cells.index(first)
    return cells[at : at + width]


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _accepted(client: TestClient, owner_conn: Any, make_account: Any, **kw: Any) -> Accepted:
    app = accepted_application(client, owner_conn, make_account, **kw)
    attach_materials(owner_conn, app)
    return app


def test_receipt_promises_dates_over_the_spring_festival(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> None:
    app = _accepted(client, owner_conn, make_account)
    r = client.get(f"/api/applications/{app.id}/receipt.html", headers=app.unit.headers)
    assert r.status_code == 200, r.text
    # The app's strict page policy (no inline code at all: the page links the print stylesheet and font).
    assert r.headers["content-security-policy"] == PAGE_POLICY
    parsed = assert_inert(r.text, r.headers.get("content-security-policy"))
    assert [h.text for h in parsed.all("h1")] == ["受理回执"] and parsed.all("style") == []
    cells = _cells(r.text)
    for name, department, days in EXPECTED_ITEMS:
        assert _row(cells, name, 4) == [name, department, str(days), DUE[days]]
    assert "2026-02-12" in r.text and app.number in r.text and app.project["code"] in cells
    # Materials received: the version attached (the report's second), by checklist name and file name.
    report, licence, drawing = (
        _name(c) for c in ("feasibility_report", "business_licence", "soil_plan_drawing")
    )
    assert _row(cells, report, 3) == [report, "可研报告.pdf", "2"]
    assert _row(cells, licence, 3) == [licence, "营业执照.pdf", "1"]
    # The 容缺 gap with its due date, and the window's contact.
    assert _row(cells, drawing, 3) == [drawing, "水土保持方案审批", "2026-02-27"]
    assert _row(cells, "受理人", 2) == ["受理人", WINDOW_NAME]
    assert _row(cells, "服务机构", 2) == ["服务机构", "龙岗区政务服务中心"]
    assert _row(cells, "联系电话", 2) == ["联系电话", "0755-12345"]

    english = client.get(f"/api/applications/{app.id}/receipt.html?lang=en", headers=app.window.headers)
    cells = _cells(english.text)
    assert _row(cells, "Soil and water conservation plan approval", 4) == [
        "Soil and water conservation plan approval",
        "Water Affairs Bureau",
        "15",
        "2026-03-11",
    ]
    assert "Acceptance receipt" in english.text and "Longgang Government Service Centre" in cells

    pdf = client.get(f"/api/applications/{app.id}/receipt.pdf", headers=app.unit.headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert app.number in text and "2026-03-18" in text and "受理回执" in text
    assert "attachment" in pdf.headers["content-disposition"]


def test_who_may_read_the_receipt(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any, make_org: Any
) -> None:
    app = _accepted(client, owner_conn, make_account)
    _, other_unit_code = make_org(OrgKind.PROJECT_UNIT)
    url = f"/api/applications/{app.id}/receipt.html"
    for role, org in (
        (Role.REVIEWER, "water"),  # a department with an item in the application
        (Role.PLANNER, "pnr"),
        (Role.VIEWER, "pnr"),
        (Role.WINDOW, "service-center"),
    ):
        assert client.get(url, headers=make_account(role, org).headers).status_code == 200, role
    for role, org in ((Role.PROJECT_UNIT, other_unit_code), (Role.REVIEWER, "housing")):
        r = client.get(url, headers=make_account(role, org).headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found", role
    r = client.get(url, headers=make_account(Role.COORDINATOR, "land-prep").headers)
    assert r.status_code == 403  # no APPLICATIONS_READ at all
    assert client.get("/api/applications/999999999/receipt.pdf", headers=app.unit.headers).status_code == 404


def test_no_receipt_before_acceptance(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> None:
    app = accepted_application(client, owner_conn, make_account)
    owner_conn.execute(
        "UPDATE approval.application SET status = 'submitted', accepted_at = NULL WHERE id = %s", (app.id,)
    )
    r = client.get(f"/api/applications/{app.id}/receipt.html", headers=app.unit.headers)
    assert r.status_code == 409 and r.json()["code"] == "not_accepted"
    r = client.get(f"/api/applications/{app.id}/issuance.html", headers=app.unit.headers)
    assert r.status_code == 409 and r.json()["code"] == "not_issued"


def _letter(conn: psycopg.Connection[Any], app: Accepted, points: dict[str, list[dict[str, str]]]) -> None:
    """Round 1, merging two departments' requests (and a withdrawn one that must not show)."""
    row = conn.execute(
        "INSERT INTO approval.correction_letter (application_id, round, sent_at, sent_by)"
        " VALUES (%s, 1, '2026-02-25 15:00+08', %s) RETURNING id",
        (app.id, app.window.id),
    ).fetchone()
    assert row is not None
    for code, pts in points.items():
        item = app.items[code]
        conn.execute(
            "INSERT INTO approval.correction_request"
            " (application_id, item_id, department_id, points, letter_id) VALUES (%s, %s, %s, %s, %s)",
            (app.id, item["id"], item["department_id"], Jsonb(pts), row[0]),
        )
    conn.execute(
        "INSERT INTO approval.correction_request (application_id, item_id, department_id, points, letter_id,"
        " withdrawn_at) VALUES (%s, %s, %s, %s, %s, now())",
        (
            app.id,
            app.items["energy_review"]["id"],
            app.items["energy_review"]["department_id"],
            Jsonb([{"text": "已撤回的要求"}]),
            row[0],
        ),
    )


def test_one_letter_groups_every_departments_points(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> None:
    app = _accepted(client, owner_conn, make_account, name=NAME)
    _letter(
        owner_conn,
        app,
        {
            "land_pre_review": [{"material_code": "site_plan", "text": "红线图坐标系应为 CGCS2000。"}],
            "soil_conservation": [{"text": PAYLOADS[0]}, {"text": "补充水土流失防治责任范围图。"}],
        },
    )
    r = client.get(f"/api/applications/{app.id}/letters/1.html", headers=app.unit.headers)
    assert r.status_code == 200, r.text
    parsed = assert_inert(r.text, r.headers.get("content-security-policy"))
    # Departments in code order (pnr before water), each with its item and points, as text.
    assert [h.text for h in parsed.all("h2")] == ["1. 规划和自然资源局龙岗管理局", "2. 龙岗区水务局"]
    assert [h.text for h in parsed.all("h3")] == ["用地预审与选址意见书", "水土保持方案审批"]
    assert [li.text for li in parsed.all("li")] == [
        "：红线图坐标系应为 CGCS2000。",
        PAYLOADS[0],
        "补充水土流失防治责任范围图。",
    ]
    assert [b.text for b in parsed.all("b")] == [_name("site_plan")]
    assert "已撤回的要求" not in r.text and "2026-02-25" in r.text and "暂停计算" in r.text
    assert NAME in [td.text for td in parsed.all("td")]  # the hostile project name, as text
    assert (
        client.get(f"/api/applications/{app.id}/letters/2.html", headers=app.unit.headers).status_code == 404
    )
    pdf = client.get(f"/api/applications/{app.id}/letters/1.pdf?lang=en", headers=app.window.headers)
    text = _pdf_text(pdf.content)
    assert app.number in text and "CGCS2000" in text and "Water Affairs Bureau" in text


def test_issuance_notice_states_each_decision(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> None:
    app = _accepted(client, owner_conn, make_account)
    document = owner_conn.execute(
        "SELECT id FROM material.material WHERE project_id = %s AND material_code = 'business_licence'",
        (app.project["id"],),
    ).fetchone()
    for code, item in app.items.items():
        decision, conditions, reasons, basis = "approve", None, None, None
        if code == "environmental_impact":
            decision, conditions = "approve_conditional", "施工期噪声须符合 GB 12523-2011。"
        if code == "soil_conservation":
            decision, reasons, basis = "refuse", PAYLOADS[1], "《中华人民共和国水土保持法》第二十五条"
        owner_conn.execute(
            "INSERT INTO approval.opinion (item_id, decision, conditions, reasons, legal_basis, document_id,"
            " department_id, decided_by_name) VALUES (%s, %s, %s, %s, %s, %s, %s, 'reviewer')",
            (
                item["id"],
                decision,
                conditions,
                reasons,
                basis,
                document[0] if code == "land_pre_review" else None,
                item["department_id"],
            ),
        )
    owner_conn.execute(
        "UPDATE approval.application SET status = 'issued', issued_at = '2026-03-20 11:00+08' WHERE id = %s",
        (app.id,),
    )
    r = client.get(f"/api/applications/{app.id}/issuance.html", headers=app.unit.headers)
    assert r.status_code == 200, r.text
    parsed = assert_inert(r.text, r.headers.get("content-security-policy"))
    cells = _cells(r.text)
    assert _row(cells, "用地预审与选址意见书", 3) == [
        "用地预审与选址意见书",
        "规划和自然资源局龙岗管理局",
        "同意",
    ]
    assert cells[cells.index("用地预审与选址意见书") + 4] == "营业执照.pdf"
    assert _row(cells, "环境影响评价文件审批", 3)[2] == "有条件同意"
    assert _row(cells, "水土保持方案审批", 3)[2] == "不同意"
    paragraphs = [p.text for p in parsed.all("p")]
    assert "附加条件：施工期噪声须符合 GB 12523-2011。" in paragraphs
    assert f"不予许可理由：{PAYLOADS[1]}" in paragraphs
    assert "法律依据：《中华人民共和国水土保持法》第二十五条" in paragraphs
    assert "2026-03-20" in r.text
    text = _pdf_text(client.get(f"/api/applications/{app.id}/issuance.pdf", headers=app.unit.headers).content)
    assert app.number in text and "不同意" in text
