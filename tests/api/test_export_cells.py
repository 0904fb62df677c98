"""CSV and XLSX exports: formula-like text is neutralised, numbers stay numbers, control characters export.

OWASP "CSV injection": a cell starting with = + - @ (or tab/CR) is text a spreadsheet must not evaluate. In
CSV it gets a leading single quote; in XLSX it is a string cell (data type "s") with the quote prefix.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from analysis.export_cells import append_row, csv_cell, csv_text, read_csv_cell, xlsx_text
from app.auth.policy import Role
from tests.api.test_demolition_ledger import new_project, new_unit
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, geojson

HYPERLINK = '=HYPERLINK("http://x","y")'
DDE = "=cmd|' /C calc'!A0"
PLUS = "+1+1"
AT = "@SUM(A1)"
FORMULAS = [HYPERLINK, DDE, PLUS, AT]
CONTROL = "左\x01右\x1f尾"  # C0 controls XML 1.0 cannot carry (openpyxl raised IllegalCharacterError)


def _csv(body: bytes | str) -> list[list[str]]:
    text = body.decode("utf-8-sig") if isinstance(body, bytes) else body.removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_csv_cells_quote_formula_text_only() -> None:
    assert [csv_cell(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert csv_cell("-5") == "'-5" and csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\rx"
    assert csv_cell("＝1+1") == "'＝1+1"  # full-width equals sign
    # Numbers are not text: a negative amount stays a number; ordinary text is untouched.
    assert csv_cell(-3) == -3 and csv_cell(-2.5) == -2.5 and csv_cell(None) == ""
    assert csv_cell("平湖街道 = 1") == "平湖街道 = 1" and csv_cell("a-b") == "a-b"
    rows = _csv(csv_text([[HYPERLINK, -3, "x"]]))
    assert rows == [["'" + HYPERLINK, "-3", "x"]]
    assert [read_csv_cell(c) for c in rows[0]] == [HYPERLINK, "-3", "x"]
    assert read_csv_cell("'quoted") == "'quoted"  # a quote before ordinary text is the user's own


def test_xlsx_cells_are_strings_never_formulas() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    append_row(sheet, [*FORMULAS, -3, 2.5, CONTROL, None])
    out = io.BytesIO()
    book.save(out)
    cells = list(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())[0]  # type: ignore[union-attr]
    assert [(c.value, c.data_type) for c in cells[:4]] == [(v, "s") for v in FORMULAS]
    assert all(c.quotePrefix for c in cells[:4])
    assert (cells[4].value, cells[4].data_type) == (-3, "n") and cells[5].value == 2.5
    assert cells[6].value == "左\ufffd右\ufffd尾" == xlsx_text(CONTROL)
    assert len(cells) == 7  # None is an empty cell


def _units_with(client: TestClient, make_account: Any) -> tuple[dict[str, Any], Any, Any]:
    admin, coord = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.COORDINATOR, "land-prep")
    project = new_project(client, admin)
    for n, text in enumerate(FORMULAS):
        new_unit(client, coord, project["id"], f"F-{n}", address=text, owner_name=text)
    return project, admin, coord


def test_ledger_csv_neutralises_formulas_and_round_trips(client: TestClient, make_account: Any) -> None:
    project, _, coord = _units_with(client, make_account)
    r = client.get(f"/api/demolition/projects/{project['id']}/units.csv", headers=coord.headers)
    assert r.status_code == 200, r.text
    rows = _csv(r.content)
    head = rows[0]
    by_code = {row[0]: dict(zip(head, row, strict=True)) for row in rows[1:]}
    for n, text in enumerate(FORMULAS):
        assert by_code[f"F-{n}"]["地址"] == "'" + text and by_code[f"F-{n}"]["权利人"] == "'" + text
        assert by_code[f"F-{n}"]["建筑面积（m²）"] == "100.00"  # numbers as they were
    # The export goes back as a bulk update unchanged: the quote is not taken for part of the value.
    r = client.post(
        f"/api/demolition/projects/{project['id']}/bulk?dry_run=true",
        files={"file": ("ledger.csv", r.content)},
        headers=coord.headers,
    )
    assert r.status_code == 200 and r.json()["problems"] == [] and r.json()["changes"] == [], r.text


def test_progress_xlsx_writes_text_cells_and_survives_control_characters(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    project, _, coord = _units_with(client, make_account)
    # Text stored before the API refused control characters (written here behind the API's back).
    owner_conn.execute(
        "UPDATE demolition.unit SET owner_name = %s WHERE project_id = %s AND unit_code = 'F-0'",
        (CONTROL, project["id"]),
    )
    r = client.get(f"/api/demolition/projects/{project['id']}/progress.xlsx", headers=coord.headers)
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content))["台账"]
    head = [c.value for c in sheet[1]]
    rows = {row[0].value: dict(zip(head, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    for n, text in enumerate(FORMULAS):
        address = rows[f"F-{n}"]["地址"]
        assert (address.value, address.data_type, address.quotePrefix) == (text, "s", True)
        area = rows[f"F-{n}"]["建筑面积（m²）"]
        assert (area.value, area.data_type) == (100, "n")
    assert rows["F-0"]["权利人"].value == "左\ufffd右\ufffd尾"


def test_report_xlsx_summary_keeps_a_formula_like_project_code_as_text(preeval_world: DemoEnv) -> None:
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    created = preeval_world.client.post(
        "/api/pre-evaluations",
        headers=unit.headers,
        json={"footprint": geojson(CANDIDATES["甲"]), "project_type": "school", "project_code": DDE},
    )
    assert created.status_code == 201, created.text
    r = preeval_world.client.get(
        f"/api/pre-evaluations/{created.json()['id']}/report.xlsx", headers=unit.headers
    )
    assert r.status_code == 200
    summary = {row[0].value: row[1] for row in load_workbook(io.BytesIO(r.content))["概要"].iter_rows()}
    code = summary["项目代码"]
    assert (code.value, code.data_type, code.quotePrefix) == (DDE, "s", True)
