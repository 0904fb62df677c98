"""`duogui service-accounts …`: a key made on the command line works at once and stops at once when
revoked; changes are audited with the command line's system actor; bad input exits non-zero, says why,
writes nothing."""

from __future__ import annotations

import base64
import getpass
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from app.auth.policy import Role
from app.cli import cli
from layers.district import DISTRICT
from tests.conftest import DemoEnv
from tests.helpers import unique

LAYER = "sp_parcel"
KEY = re.compile(r"API key \(HTTP Basic password; shown only this once\): (dgk_[A-Za-z0-9_-]{43})$", re.M)


@pytest.fixture
def runner(demo: DemoEnv, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    assert demo.settings.database_url is not None
    monkeypatch.setenv("DUOGUI_DATABASE_URL", demo.settings.database_url.get_secret_value())
    return CliRunner()


@pytest.fixture
def db(demo: DemoEnv) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(demo.settings.owner_dsn, autocommit=True) as conn:
        yield conn


def _in_days(n: int) -> str:
    return str(datetime.now(DISTRICT.tz).date() + timedelta(days=n))


def _basic(name: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()}


def _written(db: psycopg.Connection[Any]) -> tuple[int, int]:
    """How many service accounts and audit rows about them exist."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM auth.service_account),"
        " (SELECT count(*) FROM audit.event WHERE object_type = 'service_account')"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_key_made_on_the_command_line_works_and_its_revocation_refuses_at_once(
    runner: CliRunner, demo: DemoEnv, db: psycopg.Connection[Any]
) -> None:
    name = unique("gis")
    r = runner.invoke(
        cli, ["service-accounts", "create", name, "--org", "pnr", "--expires", _in_days(30), "--layer", LAYER]
    )
    assert r.exit_code == 0, r.output
    match = KEY.search(r.output)
    assert match, r.output
    key = match.group(1)
    features = db.execute(
        "SELECT count(*) FROM basemap.feature f JOIN basemap.layer l ON l.current_version = f.version_id"
        " WHERE l.code = %s",
        (LAYER,),
    ).fetchone()[0]
    for _ in range(2):
        answer = demo.client.get(f"/ogc/collections/{LAYER}/items?limit=1", headers=_basic(name, key))
        assert answer.status_code == 200 and answer.json()["numberMatched"] == features > 0
    # Another layer is outside its scope.
    assert demo.client.get("/ogc/collections/pub_kindergarten", headers=_basic(name, key)).status_code == 404

    account_id, expires, layers, all_public = db.execute(
        "SELECT id, expires_at, layers, all_public FROM auth.service_account WHERE name = %s", (name,)
    ).fetchone()
    assert layers == [LAYER] and not all_public
    # The key works through the last day given, in the district's time: it stops at the next midnight there.
    assert expires.astimezone(DISTRICT.tz).isoformat()[:19] == f"{_in_days(31)}T00:00:00"
    actor = f"cli:{getpass.getuser()}"
    audited = db.execute(
        "SELECT action, actor_username, actor_id FROM audit.event"
        " WHERE object_type = 'service_account' AND object_id = %s ORDER BY id",
        (str(account_id),),
    ).fetchall()
    assert audited == [("service_account.create", actor, None)]
    assert r.output.count(key) == 1  # printed once, and only on the line that says so

    # Usage, as the servers wrote it (the security administrator's reading writes this process's counts).
    security = demo.account(Role.SECURITY_ADMIN, "gov-data")
    demo.client.get(f"/api/service-accounts/{account_id}/usage", headers=security.headers)
    r = runner.invoke(cli, ["service-accounts", "usage", name])
    assert r.exit_code == 0, r.output
    assert f"{name}: 3 requests" in r.output and f"{LAYER} 2" in r.output
    r = runner.invoke(cli, ["service-accounts", "list"])
    assert r.exit_code == 0
    [line] = [x for x in r.output.splitlines() if x.startswith(name + " ")]
    assert line.split()[1:3] == ["pnr", "active"] and line.split()[-2:] == ["3", LAYER]

    r = runner.invoke(cli, ["service-accounts", "revoke", name])
    assert r.exit_code == 0 and f"{name}: revoked" in r.output
    refused = demo.client.get(f"/ogc/collections/{LAYER}/items?limit=1", headers=_basic(name, key))
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    assert db.execute(
        "SELECT action, actor_username FROM audit.event WHERE object_type = 'service_account'"
        " AND object_id = %s ORDER BY id DESC LIMIT 1",
        (str(account_id),),
    ).fetchone() == ("service_account.revoke", actor)
    r = runner.invoke(cli, ["service-accounts", "list"])
    assert [x.split()[2] for x in r.output.splitlines() if x.startswith(name + " ")] == ["revoked"]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["create", "{name}", "--org", "no-such-org", "--expires", "+30"], "组织“no-such-org”不存在。"),
        (["create", "Bad Name", "--org", "pnr", "--expires", "+30"], "输入有误 Invalid input — name:"),
        (
            ["create", "{name}", "--org", "pnr", "--expires", "+30", "--layer", "no_such"],
            "图层不存在：no_such",
        ),
        (["create", "{name}", "--org", "pnr", "--expires", "+400"], "到期日须在今天之后、366 天之内。"),
        (["create", "{name}", "--org", "pnr", "--expires", "+0"], "The expiry date must be after today"),
        (["create", "{name}", "--org", "pnr", "--expires", "2026-13-01"], "到期日须为 YYYY-MM-DD。"),
        (["revoke", "no-such-account"], "服务账户“no-such-account”不存在。 No service account"),
        (["usage", "no-such-account"], "服务账户“no-such-account”不存在。"),
    ],
)
def test_bad_input_says_why_and_writes_nothing(
    runner: CliRunner, db: psycopg.Connection[Any], arguments: list[str], said: str
) -> None:
    name = unique("gis")
    args = [_in_days(int(a[1:])) if a.startswith("+") else a.replace("{name}", name) for a in arguments]
    before = _written(db)
    r = runner.invoke(cli, ["service-accounts", *args])
    assert r.exit_code == 1, r.output
    assert said in r.output and "Traceback" not in r.output
    assert _written(db) == before
