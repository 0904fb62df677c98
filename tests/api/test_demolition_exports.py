"""Exports: progress XLSX and the printable HTML summary whose map loads Leaflet from this server."""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project, new_unit, step
from tests.api.test_demolition_tiles import SQUARE


def test_progress_xlsx_and_printable_summary(client: TestClient, make_account: Any) -> None:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    viewer = make_account(Role.VIEWER, "pnr")
    p = new_project(client, admin)
    u = new_unit(
        client, coord, p["id"], "E-1", geometry=SQUARE, floor_area_m2="300", subdistrict_code="sd-longgang"
    )
    new_unit(client, coord, p["id"], "E-2", floor_area_m2="100", address="<script>alert(1)</script>")
    assert step(client, coord, u, "demolished", reason="危房").status_code == 200
    client.post(
        f"/api/demolition/projects/{p['id']}/blockers",
        json={
            "category": "grave",
            "title": "坟墓<迁移>",
            "department_code": "land-prep",
            "deadline": "2026-01-01",
        },
        headers=coord.headers,
    )

    r = client.get(f"/api/demolition/projects/{p['id']}/progress.xlsx", headers=viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["进度汇总", "街道进度", "燃尽", "台账"]
    summary = book["进度汇总"]
    assert summary["B2"].value == 75 and summary["A4"].value == "状态"
    rows = {row[0]: row[1:4] for row in summary.iter_rows(min_row=5, values_only=True)}
    assert rows["拆除"] == (1, 300, 1) and rows["调查"] == (1, 100, 1) and rows["合计"] == (2, 400, 2)
    ledger = list(book["台账"].iter_rows(values_only=True))
    assert ledger[0][:3] == ("单元编号", "版本号", "状态") and {r[0] for r in ledger[1:]} == {"E-1", "E-2"}
    # The exported ledger goes back as a bulk update: only the edited cell changes.
    sheet = book["台账"]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "E-2")
    row[2].value = "评估"
    edited = io.BytesIO()
    book.save(edited)
    r = client.post(
        f"/api/demolition/projects/{p['id']}/bulk?dry_run=true",
        files={"file": ("export.xlsx", edited.getvalue())},
        headers=coord.headers,
    )
    assert r.status_code == 200 and r.json()["problems"] == []
    assert [(c["unit_code"], c["field"], c["to_value"]) for c in r.json()["changes"]] == [
        ("E-2", "status", "valued")
    ]

    r = client.get(f"/api/demolition/projects/{p['id']}/summary.html", headers=viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "征拆进度报告" in page and "75.0%" in page and "E-1" in page and "坟墓&lt;迁移&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert "/vendor/leaflet/leaflet.js" in page and "/vendor/leaflet/leaflet.css" in page
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
    assert external == [], external  # nothing from a CDN
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200
