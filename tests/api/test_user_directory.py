"""The administrators' directory API behind 用户与组织: role labels, user search with its total, organisation
edits (optimistic locking, audited), and bad input refused with nothing written."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth import users
from app.auth.policy import ROLE_LABELS, Role
from layers.audit import Actor
from tests.api.test_admin_bad_input import refused
from tests.helpers import unique

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_roles_are_listed_with_their_names_for_every_signed_in_user(
    client: TestClient, make_account: Any
) -> None:
    viewer = make_account(Role.VIEWER)
    r = client.get("/api/roles", headers=viewer.headers)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [x["code"] for x in listed] == [role.value for role in Role]
    assert {x["code"]: (x["name_zh"], x["name_en"]) for x in listed} == {
        role.value: ROLE_LABELS[role] for role in Role
    }
    # Names people read: Chinese names in Chinese, English ones without, none repeated, none a code.
    assert all(HAN.search(x["name_zh"]) and not HAN.search(x["name_en"]) for x in listed)
    assert len({x["name_zh"] for x in listed}) == len({x["name_en"] for x in listed}) == len(listed)
    assert not {x["name_en"] for x in listed} & {x["code"] for x in listed}
    assert client.get("/api/roles").status_code == 401


def _people(conn: psycopg.Connection[Any], org_code: str) -> dict[str, users.User]:
    """Five accounts of one new organisation, known names, roles and states."""
    tag = unique("dir")[-8:]
    made = {}
    for key, display, role, disabled in [
        ("ann", "王安娜", Role.PLANNER, False),
        ("bob", "李博文", Role.PLANNER, True),
        ("cat", "王彩霞", Role.REVIEWER, False),
        ("dan", "赵丹", Role.VIEWER, True),
        ("e_v", "钱100%", Role.VIEWER, False),
    ]:
        user, _ = users.create_user(
            conn,
            Actor.system("tests"),
            users.UserCreate(
                username=f"{key}-{tag}", display_name=display, role=role, org_code=org_code, password=None
            ),
        )
        if disabled:
            user = users.update_user(
                conn, Actor.system("tests"), user.id, users.UserUpdate(version=user.version, disabled=True)
            )
        made[key] = user
    return made


def test_user_search_matches_names_filters_and_counts(
    client: TestClient, make_account: Any, make_org: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    org_id, org_code = make_org()
    people = _people(owner_conn, org_code)
    tag = people["ann"].username.split("-", 1)[1]

    def found(**query: Any) -> tuple[int, list[str]]:
        r = client.get("/api/users", params={"org_id": org_id, **query}, headers=admin.headers)
        assert r.status_code == 200, r.text
        return int(r.headers["X-Total-Count"]), [u["username"].split("-")[0] for u in r.json()]

    assert found() == (5, ["ann", "bob", "cat", "dan", "e_v"])
    assert found(q="王") == (2, ["ann", "cat"])  # display names
    assert found(q=f"BOB-{tag}") == (1, ["bob"])  # login names, any case
    assert found(q="100%") == (1, ["e_v"])  # % and _ are letters here, not wildcards
    assert found(q="_")[0] == 1
    assert found(role="planner") == (2, ["ann", "bob"])
    assert found(disabled="true") == (2, ["bob", "dan"])
    assert found(disabled="false", role="viewer") == (1, ["e_v"])
    # Pages: the total is of every match, the page holds `limit` from `offset`.
    assert found(limit=2) == (5, ["ann", "bob"])
    assert found(limit=2, offset=4) == (5, ["e_v"])
    assert found(limit=2, offset=10) == (5, [])
    # Without the organisation filter the other organisations' users are there too.
    r = client.get("/api/users", params={"q": tag}, headers=admin.headers)
    assert (r.headers["X-Total-Count"], len(r.json())) == ("5", 5)

    # A planner of the organisation sees only its own organisation, whatever it asks for.
    planner = make_account(Role.PLANNER, org_code)
    r = client.get("/api/users", params={"q": "王"}, headers=planner.headers)
    assert r.headers["X-Total-Count"] == "2"
    other = client.get("/api/users", params={"org_id": admin.org_id}, headers=planner.headers)
    assert (other.json(), other.headers["X-Total-Count"]) == ([], "0")
    refused(client.get("/api/users", headers=make_account(Role.VIEWER).headers), 403)
    assert client.get("/api/users").status_code == 401


def test_user_search_refuses_bad_queries(client: TestClient, make_account: Any) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    for query in (
        "q=",
        "q=" + "x" * 101,
        "q=a%00b",
        "limit=0",
        "limit=1001",
        "offset=-1",
        "role=chief",
        "disabled=maybe",
        "org_id=0",
        "org_id=99999999999999999999",
    ):
        body = refused(client.get(f"/api/users?{query}", headers=admin.headers), 422)
        assert body["code"] == "invalid_input", query


def audit_rows(conn: Any, action: str, object_id: int) -> list[tuple[Any, Any]]:
    return conn.execute(
        "SELECT before, after FROM audit.event WHERE action = %s AND object_id = %s ORDER BY id",
        (action, str(object_id)),
    ).fetchall()


def test_an_organisation_is_renamed_and_reclassified_audited_with_its_code_kept(
    client: TestClient, make_account: Any, make_org: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    org_id, code = make_org()
    org = client.get(f"/api/orgs/{org_id}", headers=admin.headers).json()
    body = {
        "version": org["version"],
        "name_zh": "  龙岗区测试改名局 ",
        "name_en": "Renamed Bureau",
        "kind": "other",
    }
    r = client.patch(f"/api/orgs/{org_id}", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["code"], changed["name_zh"], changed["name_en"], changed["kind"]) == (
        code,
        "龙岗区测试改名局",
        "Renamed Bureau",
        "other",
    )
    assert changed["version"] == org["version"] + 1
    [(before, after)] = audit_rows(owner_conn, "organisation.update", org_id)
    assert (before["name_zh"], after["name_zh"], after["kind"]) == (
        org["name_zh"],
        "龙岗区测试改名局",
        "other",
    )
    # An empty English name clears it; leaving a field out keeps it.
    r = client.patch(
        f"/api/orgs/{org_id}", json={"version": changed["version"], "name_en": ""}, headers=admin.headers
    )
    assert (r.json()["name_en"], r.json()["name_zh"], r.json()["kind"]) == (None, "龙岗区测试改名局", "other")
    # The search finds it by its new name.
    listed = client.get("/api/orgs", params={"q": "测试改名"}, headers=admin.headers).json()
    assert [o["id"] for o in listed] == [org_id]


def test_organisation_edits_refuse_bad_input_and_write_nothing(
    client: TestClient, make_account: Any, make_org: Any, owner_conn: Any
) -> None:
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    org_id, _ = make_org()
    org = client.get(f"/api/orgs/{org_id}", headers=admin.headers).json()
    v = org["version"]
    path = f"/api/orgs/{org_id}"
    refused(client.patch(path, json={"version": v + 5, "name_zh": "过期"}, headers=admin.headers), 412)
    for body in (
        {"version": v, "name_zh": "   "},
        {"version": v, "name_zh": "名" * 201},
        {"version": v, "kind": "ministry"},
        {"version": v, "code": "new-code"},
        {"name_zh": "无版本"},
        {"version": -1, "name_zh": "负"},
        {"version": v, "name_zh": "空\u0000字符"},
    ):
        refused(client.patch(path, json=body, headers=admin.headers), 422)
    refused(client.patch("/api/orgs/999999999", json={"version": 1}, headers=admin.headers), 404)
    for role in (Role.PLANNER, Role.VIEWER, Role.REVIEWER):
        refused(
            client.patch(path, json={"version": v, "name_zh": "越权"}, headers=make_account(role).headers),
            403,
        )
    assert client.get(path, headers=admin.headers).json() == org
    assert audit_rows(owner_conn, "organisation.update", org_id) == []
