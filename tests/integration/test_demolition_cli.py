"""`duogui demolition …` against the test database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.auth.policy import Role
from app.cli import cli
from app.settings import Settings
from tests.api.test_demolition_ledger import new_project


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    assert settings.database_url is not None
    monkeypatch.setenv("DUOGUI_DATABASE_URL", settings.database_url.get_secret_value())
    return CliRunner()


def test_import_progress_and_export(
    runner: CliRunner, client: TestClient, make_account: Any, tmp_path: Path
) -> None:
    p = new_project(client, make_account(Role.SYSTEM_ADMIN, "gov-data"))
    sheet = tmp_path / "units.csv"
    sheet.write_text("单元编号,建筑面积,户数\nK-1,120,2\nK-2,80,1\n", encoding="utf-8")
    r = runner.invoke(cli, ["demolition", "import", str(p["id"]), str(sheet)])
    assert r.exit_code == 0, r.output
    assert "created 2" in r.output
    r = runner.invoke(cli, ["demolition", "import", str(p["id"]), str(sheet)])
    assert r.exit_code == 1 and "第 2 行" in r.output
    r = runner.invoke(cli, ["demolition", "progress", str(p["id"])])
    assert r.exit_code == 0 and "调查\t2\t200.00 m²\t3 户" in r.output
    out = tmp_path / "report.xlsx"
    assert runner.invoke(cli, ["demolition", "export", str(p["id"]), str(out)]).exit_code == 0
    assert load_workbook(out).sheetnames[0] == "进度汇总"
    html = tmp_path / "report.html"
    assert runner.invoke(cli, ["demolition", "export", str(p["id"]), str(html)]).exit_code == 0
    assert "征拆进度报告" in html.read_text(encoding="utf-8")
    coord = make_account(Role.COORDINATOR, "land-prep")
    blocker = {"category": "title", "title": "产权不清K", "department_code": "pnr", "deadline": "2020-01-01"}
    r = client.post(f"/api/demolition/projects/{p['id']}/blockers", json=blocker, headers=coord.headers)
    assert r.status_code == 201
    r = runner.invoke(cli, ["demolition", "blockers", "--overdue-on", "2020-01-02"])
    assert r.exit_code == 0 and "产权不清K" in r.output
    # The tracker's warnings command shows the overdue blocker through the warning-source hook.
    r = runner.invoke(cli, ["projects", "warnings", "--department", "pnr"])
    assert r.exit_code == 0 and "产权不清K" in r.output
