"""`duogui calendar …` and `duogui projects …` against the test database."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from app.calendar import store
from app.cli import cli
from app.settings import Settings
from layers.audit import Actor


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    assert settings.database_url is not None
    monkeypatch.setenv("DUOGUI_DATABASE_URL", settings.database_url.get_secret_value())
    return CliRunner()


def test_calendar_commands(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["calendar", "working-days", "2025-01-20", "2025-02-14"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "16"
    r = runner.invoke(cli, ["calendar", "add", "2025-09-30", "3"])
    assert r.output.strip() == "2025-10-11"
    r = runner.invoke(cli, ["calendar", "years"])
    lines = r.output.splitlines()
    assert lines[0].startswith("2024  正式  official") and lines[3].startswith("2027  暂定  provisional")
    r = runner.invoke(cli, ["calendar", "working-days", "2027-01-04", "2027-01-08"])
    assert r.exit_code == 0 and r.stdout.strip() == "5"
    assert "2027 年工作日历为暂定" in r.stderr
    r = runner.invoke(cli, ["calendar", "working-days", "2050-01-03", "2050-01-07"])
    assert r.exit_code == 1 and "2050" in r.output


def test_seed_reloads_a_removed_provisional_year(runner: CliRunner, settings: Settings) -> None:
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        assert store.get_year(conn, 2040).status == "provisional"
        # Removing a provisional year unloads it (there is nothing to fall back to) ...
        assert store.delete_year(conn, Actor.system("tests"), 2040) is None
    r = runner.invoke(cli, ["calendar", "working-days", "2040-01-02", "2040-01-06"])
    assert r.exit_code == 1 and "2040" in r.output
    # ... and `calendar seed` loads it again, provisional.
    r = runner.invoke(cli, ["calendar", "seed"])
    assert r.exit_code == 0 and r.output.strip() == "loaded [2040]"
    r = runner.invoke(cli, ["calendar", "show", "2040"])
    assert "2040-02-11  休  春节" in r.stdout and "2040 年工作日历为暂定" in r.stderr
    assert runner.invoke(cli, ["calendar", "seed"]).output.strip() == "every shipped year is already loaded"


def test_project_code_command(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["projects", "check-code", "2025-440307-47-01-000010"]).exit_code == 0
    r = runner.invoke(cli, ["projects", "check-code", "2025-440307-47-01-000011"])
    assert r.exit_code == 1 and "check character" in r.output
    assert runner.invoke(cli, ["projects", "list"]).exit_code == 0
