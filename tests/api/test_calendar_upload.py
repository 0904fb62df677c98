"""Loading a year's official arrangement from a file (the calendar page's upload, and `duogui calendar load`):
a good file turns a provisional year official with exactly its days; a bad one is refused whole, naming the
line, and nothing changes — neither the year nor the audit log."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth.policy import Role
from app.cli import cli
from app.settings import Settings
from tests.api.test_admin_bad_input import refused

# Years of the shipped provisional calendars that no other test asserts on (2027-2035 are, 2040 is).
GOOD_YEAR, BAD_YEAR = 2037, 2038


def arrangement(year: int) -> dict[str, Any]:
    """A made-up arrangement in the style of the State Council's: 元旦, an 8-day 春节 with a make-up Saturday
    before it and a make-up Sunday after it, and 国庆节."""
    spring = [date(year, 2, 10) + timedelta(days=i) for i in range(8)]
    saturday = date(year, 2, 1) + timedelta(days=(5 - date(year, 2, 1).weekday()) % 7)
    sunday = date(year, 2, 20) + timedelta(days=(6 - date(year, 2, 20).weekday()) % 7)
    return {
        "source": f"测试：{year} 年放假安排",
        "holidays": [{"date": f"{year}-01-01", "name": "元旦"}]
        + [{"date": d.isoformat(), "name": "春节"} for d in spring]
        + [{"date": f"{year}-10-0{i}", "name": "国庆节"} for i in range(1, 8)],
        "makeup_working_days": [{"date": d.isoformat(), "name": "春节"} for d in (saturday, sunday)],
    }


def file_text(document: dict[str, Any]) -> bytes:
    """Written as people write these files: one entry per line."""
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


def working_days_of(year: int, document: dict[str, Any]) -> int:
    """Counted here by hand: Monday-Friday, minus the holidays, plus the make-up days."""
    off = {date.fromisoformat(d["date"]) for d in document["holidays"]}
    on = {date.fromisoformat(d["date"]) for d in document["makeup_working_days"]}
    day, count = date(year, 1, 1), 0
    while day.year == year:
        count += (day.weekday() < 5 and day not in off) or day in on
        day += timedelta(days=1)
    return count


def upload(client: TestClient, year: int, raw: bytes, headers: dict[str, str], name: str = "y.json") -> Any:
    return client.post(f"/api/calendar/years/{year}/file", files={"file": (name, raw)}, headers=headers)


def audit_count(conn: Any, year: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM audit.event WHERE object_type = 'calendar_year' AND object_id = %s",
        (str(year),),
    ).fetchone()
    return int(row[0])


def test_a_file_turns_a_provisional_year_official_with_exactly_its_days(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin, viewer = make_account(Role.SYSTEM_ADMIN, "gov-data"), make_account(Role.VIEWER)
    document = arrangement(GOOD_YEAR)
    before = client.get(f"/api/calendar/years/{GOOD_YEAR}", headers=viewer.headers).json()
    assert before["status"] == "provisional"
    audited = audit_count(owner_conn, GOOD_YEAR)
    try:
        r = upload(client, GOOD_YEAR, file_text(document), admin.headers)
        assert r.status_code == 200, r.text
        year = client.get(f"/api/calendar/years/{GOOD_YEAR}", headers=viewer.headers).json()
        assert year["status"] == "official" and year["note_zh"] is None
        assert year["source"] == document["source"]
        assert year["holidays"] == document["holidays"]
        assert year["makeup_working_days"] == document["makeup_working_days"]
        span = {"from": f"{GOOD_YEAR}-01-01", "to": f"{GOOD_YEAR}-12-31"}
        counted = client.get("/api/calendar/working-days", params=span, headers=viewer.headers).json()
        assert counted["working_days"] == working_days_of(GOOD_YEAR, document)
        assert counted["provisional_years"] == []
        statuses = client.get("/api/calendar/years", headers=viewer.headers).json()["calendars"]
        assert {c["year"]: c["status"] for c in statuses}[GOOD_YEAR] == "official"
        [(action, after)] = owner_conn.execute(
            "SELECT action, after FROM audit.event WHERE object_type = 'calendar_year' AND object_id = %s"
            " ORDER BY id OFFSET %s",
            (str(GOOD_YEAR), audited),
        ).fetchall()
        assert action == "calendar.replace_year" and after["status"] == "official"
        # Without a source in the file, the file's name is the source.
        del document["source"]
        r = upload(client, GOOD_YEAR, file_text(document), admin.headers, name="国务院2037.json")
        assert r.json()["source"] == "上传文件 国务院2037.json"
    finally:
        assert client.delete(f"/api/calendar/years/{GOOD_YEAR}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/calendar/years/{GOOD_YEAR}", headers=viewer.headers).json() == before


def _lines_with(raw: bytes, needle: str) -> list[int]:
    return [n for n, line in enumerate(raw.decode("utf-8", "replace").split("\n"), start=1) if needle in line]


def bad_files() -> list[tuple[str, bytes, int]]:
    """(what, file, the line the refusal must name): each line number found here in the text itself."""
    good = file_text(arrangement(BAD_YEAR))
    wrong_year = good.replace(f"{BAD_YEAR}-10-03".encode(), f"{BAD_YEAR - 1}-10-03".encode())
    twice = good.replace(f"{BAD_YEAR}-10-05".encode(), f"{BAD_YEAR}-10-04".encode())
    bad_day = good.replace(f"{BAD_YEAR}-10-06".encode(), f"{BAD_YEAR}-02-30".encode())
    nul = good.replace("国庆节".encode(), "国庆\x00节".encode(), 1)
    overlap = good.replace(
        b'"makeup_working_days": [',
        f'"makeup_working_days": [\n  {{"date": "{BAD_YEAR}-01-01", "name": "x"}},'.encode(),
    )
    broken = good.replace(f'"{BAD_YEAR}-10-07"'.encode(), f'"{BAD_YEAR}-10-07",,'.encode())
    latin1 = good.replace("国庆节".encode(), "F\xeate".encode("latin-1"), 1)
    weekday = good.replace(
        b'"makeup_working_days": [',
        f'"makeup_working_days": [\n  {{"date": "{BAD_YEAR}-03-03", "name": "x"}},'.encode(),
    )
    other_year = good.replace(b'"source"', f'"year": {BAD_YEAR + 1},\n "source"'.encode())
    return [
        ("wrong year", wrong_year, _lines_with(wrong_year, f"{BAD_YEAR - 1}-10-03")[0]),
        ("listed twice", twice, _lines_with(twice, f"{BAD_YEAR}-10-04")[1]),
        ("no such day", bad_day, _lines_with(bad_day, f"{BAD_YEAR}-02-30")[0]),
        ("NUL byte", nul, _lines_with(nul, "\x00")[0]),
        ("holiday and working day", overlap, _lines_with(overlap, f"{BAD_YEAR}-01-01")[1]),
        ("broken JSON", broken, _lines_with(broken, ",,")[0]),
        ("not UTF-8", latin1, _lines_with(latin1, "F\ufffdte")[0]),
        ("make-up day on a weekday", weekday, _lines_with(weekday, f"{BAD_YEAR}-03-03")[0]),
        ("file of another year", other_year, _lines_with(other_year, '"year"')[0]),
    ]


def test_a_bad_file_is_refused_naming_the_line_and_nothing_changes(
    client: TestClient, make_account: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    before = client.get(f"/api/calendar/years/{BAD_YEAR}", headers=admin.headers).json()
    audited = audit_count(owner_conn, BAD_YEAR)
    for what, raw, line in bad_files():
        assert line > 1, what  # the mistake sits inside the file, not on its first line
        body = refused(upload(client, BAD_YEAR, raw, admin.headers), 422, "bad_calendar_file")
        assert f"第 {line} 行" in body["message_zh"], (what, body["message_zh"])
        assert f"Line {line}:" in body["message_en"], (what, body["message_en"])
        assert body["problems"][0]["line"] == line, what
    assert client.get(f"/api/calendar/years/{BAD_YEAR}", headers=admin.headers).json() == before
    assert audit_count(owner_conn, BAD_YEAR) == audited


def test_the_upload_refuses_callers_sizes_and_years(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    good = file_text(arrangement(BAD_YEAR))
    for role in (Role.PLANNER, Role.VIEWER, Role.REVIEWER, Role.COORDINATOR):
        refused(upload(client, BAD_YEAR, good, make_account(role).headers), 403)
    assert upload(client, BAD_YEAR, good, {}).status_code == 401
    refused(upload(client, BAD_YEAR, good + b" " * (1024 * 1024), admin.headers), 413)
    refused(upload(client, 2101, file_text(arrangement(2101)), admin.headers), 422)
    refused(upload(client, 0, good, admin.headers), 422)
    r = client.post(f"/api/calendar/years/{BAD_YEAR}/file", headers=admin.headers)
    refused(r, 422)
    assert (
        client.get(f"/api/calendar/years/{BAD_YEAR}", headers=admin.headers).json()["status"] == "provisional"
    )


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    assert settings.database_url is not None
    monkeypatch.setenv("DUOGUI_DATABASE_URL", settings.database_url.get_secret_value())
    return CliRunner()


def test_the_cli_loads_the_same_files_with_the_same_checks(runner: CliRunner, tmp_path: Path) -> None:
    for what, raw, line in bad_files():
        path = tmp_path / "bad.json"
        path.write_bytes(raw)
        r = runner.invoke(cli, ["calendar", "load", str(BAD_YEAR), str(path)])
        assert r.exit_code == 1 and f"第 {line} 行" in r.output, (what, r.output)
    r = runner.invoke(cli, ["calendar", "show", str(BAD_YEAR)])
    assert "暂定" in r.stderr
