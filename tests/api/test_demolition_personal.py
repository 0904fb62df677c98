"""Residents' data on a need-to-know basis: masked for everyone who does not work the case, in every channel;
in full for 土地整备局 and the unit's sub-district coordinators, each such request audited once."""

from __future__ import annotations

import csv
import io
from typing import Any

import mapbox_vector_tile
import psycopg
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.auth.policy import Role
from layers.tiles.grid import lonlat_to_tile
from tests.api.test_demolition_ledger import new_project, new_unit
from tests.api.test_demolition_tiles import LAT, LON, SQUARE

ID_NUMBER = "440307199001051234"  # check character summed by hand in tests/unit/test_personal_masking.py
PERSON = {
    "owner_name": "张三",
    "id_number": ID_NUMBER,
    "phone": "13812345678",
    "address": "平湖街道凤凰社区凤凰大道 12 号",
    "owner_type": "private",
    "subdistrict_code": "sd-pinghu",
}
FULL = ("张三", ID_NUMBER, "13812345678", "平湖街道凤凰社区凤凰大道 12 号")
MASKED = ("张*", "440307********1234", "138****5678", "平湖街道凤凰社区****")
FIELDS = ("owner_name", "id_number", "phone", "address")


def _reads(conn: psycopg.Connection[Any], project_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT actor_username, after FROM audit.event WHERE action = 'demolition.personal_data.read'"
        " AND object_type = 'project' AND object_id = %s ORDER BY id",
        (str(project_id),),
    ).fetchall()
    return [{"who": r[0], **r[1]} for r in rows]


def _world(client: TestClient, make_account: Any) -> dict[str, Any]:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    land_prep = make_account(Role.COORDINATOR, "land-prep")
    p = new_project(client, admin)
    unit = new_unit(client, land_prep, p["id"], "P-1", geometry=SQUARE, **PERSON)
    return {
        "project": p,
        "unit": unit,
        "admin": admin,
        "land_prep": land_prep,
        "land_prep_viewer": make_account(Role.VIEWER, "land-prep"),
        "pinghu": make_account(Role.COORDINATOR, "sd-pinghu"),
        "buji": make_account(Role.COORDINATOR, "sd-buji"),
        "viewer": make_account(Role.VIEWER, "pnr"),
        "planner": make_account(Role.PLANNER, "pnr"),
        "reviewer": make_account(Role.REVIEWER, "education"),  # the project's department, not the case's
    }


def _values(unit: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(unit[f] for f in FIELDS)


MASKED_ROLES = ("admin", "buji", "viewer", "planner", "reviewer")
FULL_ROLES = ("land_prep", "land_prep_viewer", "pinghu")


def test_api_masks_for_those_without_need_to_know_and_audits_full_reads(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = _world(client, make_account)
    pid, uid = w["project"]["id"], w["unit"]["id"]
    before = len(_reads(owner_conn, pid))
    for who in MASKED_ROLES:
        listed = client.get(f"/api/demolition/projects/{pid}/units", headers=w[who].headers)
        assert listed.status_code == 200, (who, listed.text)
        assert _values(listed.json()[0]) == MASKED, who
        one = client.get(f"/api/demolition/units/{uid}", headers=w[who].headers).json()
        assert _values(one) == MASKED, who
    assert len(_reads(owner_conn, pid)) == before  # masked reads are not personal-data reads
    for who in FULL_ROLES:
        listed = client.get(f"/api/demolition/projects/{pid}/units", headers=w[who].headers)
        assert _values(listed.json()[0]) == FULL, who
        reads = _reads(owner_conn, pid)
        assert len(reads) == before + 1, who  # exactly one event for the request, not one per row
        assert reads[-1]["who"] == w[who].username
        assert reads[-1]["channel"] == "api" and reads[-1]["units"] == [uid]
        before += 1


def test_event_log_and_stale_answers_mask_too(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = _world(client, make_account)
    pid, unit = w["project"]["id"], w["unit"]
    r = client.patch(
        f"/api/demolition/units/{unit['id']}",
        json={"version": 1, "phone": "13987654321"},
        headers=w["land_prep"].headers,
    )
    assert r.status_code == 200 and r.json()["phone"] == "13987654321"
    events = client.get(f"/api/demolition/units/{unit['id']}/events", headers=w["viewer"].headers).json()
    assert events[-1]["changes"]["phone"] == {"from": "138****5678", "to": "139****4321"}
    before = len(_reads(owner_conn, pid))
    events = client.get(f"/api/demolition/units/{unit['id']}/events", headers=w["pinghu"].headers).json()
    assert events[-1]["changes"]["phone"] == {"from": "13812345678", "to": "13987654321"}
    assert [e["channel"] for e in _reads(owner_conn, pid)[before:]] == ["events"]
    # A stale change by someone without the need to know is answered with the masked current state.
    stale = client.patch(
        f"/api/demolition/units/{unit['id']}", json={"version": 1, "households": 2}, headers=w["buji"].headers
    )
    assert stale.status_code == 409 and stale.json()["current"]["phone"] == "139****4321"
    # The audit log's own change records keep no personal value in the clear.
    after = owner_conn.execute(
        "SELECT after FROM audit.event WHERE action = 'demolition.unit.update' AND object_id = %s",
        (str(unit["id"]),),
    ).fetchone()
    assert after is not None and after[0]["phone"] == "139****4321" and after[0]["owner_name"] == "张*"


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_exports_are_masked_or_marked_and_audited(
    client: TestClient, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = _world(client, make_account)
    p = w["project"]
    pid = p["id"]
    url = f"/api/demolition/projects/{pid}/units.csv"
    before = len(_reads(owner_conn, pid))
    r = client.get(url, headers=w["viewer"].headers)
    assert f"demolition-ledger-{p['code']}-masked.csv" in r.headers["content-disposition"]
    rows = _csv(r.content)
    head = rows[0]
    assert head[-1] == "个人信息已脱敏 / Personal information masked"
    row = dict(zip(head, rows[1], strict=True))
    assert (row["权利人"], row["身份证号"], row["联系电话"], row["地址"]) == MASKED
    assert len(_reads(owner_conn, pid)) == before
    # The masked CSV goes back as a bulk update unchanged: masked cells are not taken for new values.
    bulk = client.post(
        f"/api/demolition/projects/{pid}/bulk?dry_run=true",
        files={"file": ("ledger.csv", r.content)},
        headers=w["buji"].headers,
    )
    assert bulk.status_code == 200 and bulk.json()["problems"] == [] and bulk.json()["changes"] == []

    r = client.get(url, headers=w["land_prep"].headers)
    assert f"demolition-ledger-{p['code']}-personal.csv" in r.headers["content-disposition"]
    rows = _csv(r.content)
    assert rows[0][-1].startswith("含个人信息") and "Contains personal information" in rows[0][-1]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["权利人"], row["身份证号"], row["联系电话"], row["地址"]) == FULL
    assert [e["channel"] for e in _reads(owner_conn, pid)[before:]] == ["csv"]

    xlsx = f"/api/demolition/projects/{pid}/progress.xlsx"
    for who, values, mark, suffix in (
        ("planner", MASKED, "个人信息已脱敏", "masked"),
        ("pinghu", FULL, "含个人信息", "personal"),
    ):
        r = client.get(xlsx, headers=w[who].headers)
        assert f"demolition-{p['code']}-{suffix}.xlsx" in r.headers["content-disposition"]
        book = load_workbook(io.BytesIO(r.content))
        ledger = list(book["台账"].iter_rows(values_only=True))
        got = dict(zip(ledger[0], ledger[1], strict=True))
        assert (got["权利人"], got["身份证号"], got["联系电话"], got["地址"]) == values, who
        assert str(book["进度汇总"]["H1"].value).startswith(mark)
        assert book.properties.keywords == mark
        assert all(sheet.oddHeader.center.text.startswith(mark) for sheet in book.worksheets)
    assert [e["channel"] for e in _reads(owner_conn, pid)[before:]] == ["csv", "xlsx"]

    page = client.get(f"/api/demolition/projects/{pid}/summary.html", headers=w["land_prep"].headers).text
    assert not any(v in page for v in FULL[:3] + MASKED[:3])  # the printed page carries no personal value
    assert len(_reads(owner_conn, pid)) == before + 2


def test_tiles_carry_no_personal_value(client: TestClient, make_account: Any) -> None:
    w = _world(client, make_account)
    x, y = lonlat_to_tile(LON + 0.0001, LAT + 0.0001, 16)
    for who in ("viewer", "land_prep"):
        r = client.get(f"/tiles/demolition/{w['project']['id']}/16/{x}/{y}.mvt", headers=w[who].headers)
        assert r.status_code == 200
        props = mapbox_vector_tile.decode(r.content)["demolition_unit"]["features"][0]["properties"]
        assert props["unit_code"] == "P-1" and not set(props) & set(FIELDS)
        raw = r.content.decode("utf-8", "replace")
        assert not any(v in raw for v in FULL + MASKED[:3])


def test_bad_or_masked_personal_input_is_refused(client: TestClient, make_account: Any) -> None:
    w = _world(client, make_account)
    pid, uid = w["project"]["id"], w["unit"]["id"]
    coord = w["land_prep"].headers
    for body in (
        {"id_number": "440307199001051235"},  # wrong check character
        {"id_number": "4403071990010512"},
        {"phone": "1381234567"},
        {"owner_name": "张*"},  # a masked value never overwrites the real one
        {"phone": "138****5678"},
    ):
        r = client.patch(f"/api/demolition/units/{uid}", json={"version": 1, **body}, headers=coord)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()
        assert problem["code"] == "invalid_input" and "输入内容无效" in problem["message_zh"], problem
    full = client.get(f"/api/demolition/units/{uid}", headers=coord).json()
    assert _values(full) == FULL and full["version"] == 1  # nothing written
    # An import with a bad ID, or a masked name, is refused whole, naming the row.
    sheet = "单元编号,权利人,身份证号,联系电话\nQ-1,李四,440307199001051235,13812345678\nQ-2,王*,,\n"
    r = client.post(
        f"/api/demolition/projects/{pid}/units/import",
        files={"file": ("units.csv", sheet.encode())},
        headers=coord,
    )
    assert r.status_code == 422 and r.json()["code"] == "import_refused"
    assert [(p["row"], p["code"]) for p in r.json()["problems"]] == [(2, "invalid_cell"), (3, "invalid_cell")]
    assert "校验位" in r.json()["problems"][0]["message_zh"]
    # A masked cell that is not the stored value's own mask is refused in a bulk update.
    edited = "单元编号,版本号,权利人\nP-1,1,李*\n"
    r = client.post(
        f"/api/demolition/projects/{pid}/bulk?dry_run=true",
        files={"file": ("b.csv", edited.encode())},
        headers=coord,
    )
    assert [p["code"] for p in r.json()["problems"]] == ["masked_value"]


def test_blockers_free_text_is_masked_for_those_without_need_to_know(
    client: TestClient, make_account: Any
) -> None:
    """A blocker's title, description and thread may quote the household: without the need to know, ID and
    mobile numbers anywhere in them, and the unit's own name and address, are masked; a long contract number
    is not a phone or an ID and stays."""
    w = _world(client, make_account)
    pid, uid = w["project"]["id"], w["unit"]["id"]
    text = (
        "户主张三（身份证 440307199001051234，电话 13812345678，亲属 13900001111）"
        "住平湖街道凤凰社区凤凰大道 12 号，合同 20261201000012345678"
    )
    masked = (
        "户主张*（身份证 440307********1234，电话 138****5678，亲属 139****1111）"
        "住平湖街道凤凰社区****，合同 20261201000012345678"
    )
    body = {
        "unit_id": uid,
        "category": "dispute",
        "title": "张三不同意补偿",
        "description": text,
        "department_code": "land-prep",
        "deadline": "2026-03-10",
    }
    r = client.post(f"/api/demolition/projects/{pid}/blockers", json=body, headers=w["land_prep"].headers)
    assert r.status_code == 201, r.text
    blocker_id = r.json()["id"]
    act = f"/api/demolition/blockers/{blocker_id}/actions"
    said = {"action": "comment", "body": "已电话 13812345678 联系张三"}
    assert client.post(act, json=said, headers=w["land_prep"].headers).status_code == 200
    # A coordinator of another sub-district comments; the answer shows the blocker masked.
    r = client.post(act, json={"action": "comment", "body": "收到"}, headers=w["buji"].headers)
    assert r.status_code == 200 and r.json()["description"] == masked
    for who in ("viewer", "planner", "admin", "buji"):
        [shown] = client.get(f"/api/demolition/projects/{pid}/blockers", headers=w[who].headers).json()
        assert (shown["title"], shown["description"]) == ("张*不同意补偿", masked), who
    for who in ("land_prep", "pinghu"):
        [shown] = client.get(f"/api/demolition/projects/{pid}/blockers", headers=w[who].headers).json()
        assert (shown["title"], shown["description"]) == ("张三不同意补偿", text), who
    thread = f"/api/demolition/blockers/{blocker_id}/comments"
    bodies = [c["body"] for c in client.get(thread, headers=w["buji"].headers).json()]
    assert bodies == [masked, "已电话 138****5678 联系张*", "收到"]
    bodies = [c["body"] for c in client.get(thread, headers=w["pinghu"].headers).json()]
    assert bodies == [text, "已电话 13812345678 联系张三", "收到"]
    # The e-supervision warning of the overdue blocker quotes its title, masked the same way.
    q = f"/api/warnings?project_id={pid}&as_of=2026-03-15"
    for who, title in (("viewer", "张*不同意补偿"), ("pinghu", "张三不同意补偿")):
        [warning] = [x for x in client.get(q, headers=w[who].headers).json() if x["blocker_id"] == blocker_id]
        assert f"“{title}”" in warning["message_zh"] and f"'{title}'" in warning["message_en"], who
