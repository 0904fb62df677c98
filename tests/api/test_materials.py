"""The materials store (材料库) over HTTP: stored once, versions, offers, refusals, who may read."""

from __future__ import annotations

import contextvars
import hashlib
import io
import os
import uuid
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import weasyprint
from fastapi.testclient import TestClient
from PIL import Image

from app.auth.policy import Role
from app.materials import service
from app.materials.storage import LocalBlobStore, use_store
from app.orgs.service import OrgKind
from app.settings import Settings
from layers.audit import Actor
from tests.api.test_approval_items import plan_items
from tests.api.test_projects import new_project


def pdf(text: str) -> bytes:
    # ASCII text: the PDF only has to be a real one (the test fonts have no CJK glyphs).
    return bytes(weasyprint.HTML(string=f"<h1>{text.encode('unicode_escape').decode()}</h1>").write_pdf())


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def upload(client: TestClient, acct: Any, data: bytes, name: str, code: str, **form: Any) -> Any:
    fields = {"material_code": code, "purpose": "application", **{k: str(v) for k, v in form.items()}}
    return client.post(
        "/api/materials",
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
        headers=acct.headers,
    )


def raw_upload(client: TestClient, acct: Any, file_name: bytes, data: bytes, code: str) -> Any:
    """A multipart upload built by hand, so that the file name goes out as exactly these bytes."""
    boundary = "duoguiboundary"
    head = f"--{boundary}\r\nContent-Disposition: form-data; name="
    body = b"".join(
        [
            f'{head}"material_code"\r\n\r\n{code}\r\n'.encode(),
            f'{head}"purpose"\r\n\r\napplication\r\n'.encode(),
            f'{head}"file"; filename="'.encode() + file_name + b'"\r\n\r\n' + data + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
    )
    headers = {**acct.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return client.post("/api/materials", content=body, headers=headers)


def stored_files(settings: Settings) -> list[Path]:
    """Every file under the store's folder (blobs and temporary files)."""
    root = settings.stored_files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class World:
    """A fresh project unit with a project and its plan, a reviewer of one of its items' departments,
    and a second unit; each test gets its own, so libraries never mix."""

    def __init__(self, client: TestClient, make_org: Any, make_account: Any, conn: psycopg.Connection[Any]):
        _, code = make_org(OrgKind.PROJECT_UNIT)
        _, other_code = make_org(OrgKind.PROJECT_UNIT)
        self.unit = make_account(Role.PROJECT_UNIT, code)
        self.other_unit = make_account(Role.PROJECT_UNIT, other_code)
        admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
        self.project = new_project(client, admin, owner_dept_code="education", unit_org_code=code)
        self.other_project = new_project(client, admin, owner_dept_code="education", unit_org_code=other_code)
        plan_items(client, self.unit, self.project["id"])
        stage, dept = conn.execute(
            "SELECT i.stage, o.code FROM approval.item i JOIN auth.organisation o ON o.id = i.department_id"
            " WHERE i.project_id = %s AND o.code <> 'education' ORDER BY i.id LIMIT 1",
            (self.project["id"],),
        ).fetchone()
        self.stage = stage
        self.reviewer = make_account(Role.REVIEWER, dept)
        # A department with no item in the project at all.
        _, far = make_org(OrgKind.DEPARTMENT)
        self.far_reviewer = make_account(Role.REVIEWER, far)
        self.window = make_account(Role.WINDOW, "service-center")


def application(conn: psycopg.Connection[Any], project_id: int, stage: str) -> int:
    """An application row as the window flow makes it (0015 schema; the flow itself is app/window), holding
    the stage's open items (rows of approval.application_item)."""
    row = conn.execute(
        "INSERT INTO approval.application (number, project_id, stage, status)"
        " VALUES (%s, %s, %s, 'submitted') RETURNING id",
        (f"T{uuid.uuid4().hex[:12]}", project_id, stage),
    ).fetchone()
    assert row is not None
    conn.execute(
        "INSERT INTO approval.application_item (application_id, item_id) SELECT %s, id FROM approval.item"
        " WHERE project_id = %s AND stage = %s AND status NOT IN ('merged', 'cancelled')",
        (row[0], project_id, stage),
    )
    return int(row[0])


def attach(conn: psycopg.Connection[Any], application_id: int, code: str, material_id: int) -> None:
    conn.execute(
        "INSERT INTO approval.application_material (application_id, material_code, material_id)"
        " VALUES (%s, %s, %s)",
        (application_id, code, material_id),
    )


def test_uploaded_once_attached_twice_stored_once(
    client: TestClient,
    make_org: Any,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    settings: Settings,
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    data = pdf(f"营业执照 {uuid.uuid4()}")
    sha = hashlib.sha256(data).hexdigest()
    before = stored_files(settings)
    r = upload(client, w.unit, data, "营业执照.pdf", "business_licence")
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["sha256"], m["size"], m["media_type"], m["file_name"]) == (
        sha,
        len(data),
        "application/pdf",
        "营业执照.pdf",
    )
    assert (m["version"], m["supersedes_id"], m["project_id"], m["owner_org_id"]) == (
        1,
        None,
        None,
        w.unit.org_id,
    )
    assert m["uploaded_by_name"] == w.unit.username and m["current"] is True

    # One file more, under sha256/ab/cd/<sha>, whose bytes hash (by hashlib) to the recorded SHA-256.
    after = stored_files(settings)
    assert len(after) == len(before) + 1
    blob = settings.stored_files_dir / "sha256" / sha[:2] / sha[2:4] / sha
    assert set(after) - set(before) == {blob}
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha

    # Attached to the applications of two stages; the project's unit uploads nothing again.
    first = application(owner_conn, w.project["id"], "project_land")
    second = application(owner_conn, w.project["id"], "engineering")
    attach(owner_conn, first, "business_licence", m["id"])
    attach(owner_conn, second, "business_licence", m["id"])
    # The same bytes uploaded again (another code, another organisation): still one file, one blob row.
    assert upload(client, w.unit, data, "执照副本.pdf", "licence_copy").status_code == 201
    assert upload(client, w.other_unit, data, "x.pdf", "business_licence").status_code == 201
    assert len(stored_files(settings)) == len(before) + 1
    assert owner_conn.execute("SELECT count(*) FROM material.blob WHERE sha256 = %s", (sha,)).fetchone() == (
        1,
    )
    refs = owner_conn.execute(
        "SELECT count(*) FROM approval.application_material WHERE material_id = %s", (m["id"],)
    ).fetchone()
    assert refs == (2,)
    rows = owner_conn.execute("SELECT count(*) FROM material.material WHERE sha256 = %s", (sha,)).fetchone()
    assert rows == (3,)

    # The download: the same bytes, the sniffed type, the Chinese name (RFC 5987), never rendered inline.
    r = client.get(f"/api/materials/{m['id']}/content", headers=w.unit.headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"____.pdf\"; filename*=UTF-8''{quote('营业执照.pdf', safe='')}"
    )
    assert "sandbox" in r.headers["content-security-policy"]


def test_who_may_read_a_material(
    client: TestClient, make_org: Any, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    data = pdf(f"可研报告 {uuid.uuid4()}")
    m = upload(client, w.unit, data, "可研报告.pdf", "feasibility_study", project_id=w.project["id"]).json()
    content, meta = f"/api/materials/{m['id']}/content", f"/api/materials/{m['id']}"

    # Not yet attached: the owner, the window, planners and the administrator; a department not yet.
    for acct in (
        w.unit,
        w.window,
        make_account(Role.PLANNER, "pnr"),
        make_account(Role.SYSTEM_ADMIN, "gov-data"),
    ):
        assert client.get(meta, headers=acct.headers).status_code == 200
    for acct in (w.other_unit, w.reviewer, w.far_reviewer):
        for url in (meta, content, f"{meta}/versions"):
            r = client.get(url, headers=acct.headers)
            assert r.status_code == 404 and r.json()["code"] == "material_not_found", (acct.username, url)
    # Attached to an application of the stage in which the reviewer's department has an item: it may read.
    attach(owner_conn, application(owner_conn, w.project["id"], w.stage), "feasibility_study", m["id"])
    r = client.get(content, headers=w.reviewer.headers)
    assert r.status_code == 200 and r.content == data
    for acct in (w.other_unit, w.far_reviewer):
        assert client.get(meta, headers=acct.headers).status_code == 404
        assert client.get(content, headers=acct.headers).status_code == 404
    # Never in another organisation's library listing.
    listed = client.get("/api/materials", headers=w.other_unit.headers).json()
    assert m["id"] not in {x["id"] for x in listed}
    # A viewer does not read materials at all (the policy grants it no MATERIALS_READ).
    assert client.get(meta, headers=make_account(Role.VIEWER, "pnr").headers).status_code == 403


def test_a_new_version_keeps_the_old_one_and_its_attachment(
    client: TestClient, make_org: Any, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    v1_bytes, v2_bytes = pdf(f"v1 {uuid.uuid4()}"), pdf(f"v2 {uuid.uuid4()}")
    v1 = upload(client, w.unit, v1_bytes, "红线图.pdf", "red_line_map", project_id=w.project["id"]).json()
    app_id = application(owner_conn, w.project["id"], "project_land")
    attach(owner_conn, app_id, "red_line_map", v1["id"])
    r = upload(client, w.unit, v2_bytes, "红线图（修订）.pdf", "red_line_map", project_id=w.project["id"])
    assert r.status_code == 201
    v2 = r.json()
    assert (v2["version"], v2["supersedes_id"], v2["current"]) == (2, v1["id"], True)

    old = client.get(f"/api/materials/{v1['id']}", headers=w.unit.headers).json()
    assert old["current"] is False and old["superseded_at"] is not None
    assert client.get(f"/api/materials/{v1['id']}/content", headers=w.unit.headers).content == v1_bytes
    assert client.get(f"/api/materials/{v2['id']}/content", headers=w.unit.headers).content == v2_bytes
    attached = owner_conn.execute(
        "SELECT material_id FROM approval.application_material WHERE application_id = %s", (app_id,)
    ).fetchone()
    assert attached == (v1["id"],)
    versions = client.get(f"/api/materials/{v2['id']}/versions", headers=w.unit.headers).json()
    assert [(x["id"], x["version"]) for x in versions] == [(v2["id"], 2), (v1["id"], 1)]
    library = client.get("/api/materials?material_code=red_line_map", headers=w.unit.headers).json()
    assert [x["id"] for x in library] == [v2["id"]]
    # The audit trail names both versions.
    row = owner_conn.execute(
        "SELECT before->>'id', after->>'version' FROM audit.event WHERE action = 'material.store'"
        " AND object_id = %s",
        (str(v2["id"]),),
    ).fetchone()
    assert row == (str(v1["id"]), "2")


def test_expired_materials_are_not_offered(
    client: TestClient, make_org: Any, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    today = date.today()
    until = today + timedelta(days=10)
    licence = upload(
        client,
        w.unit,
        pdf(f"执照 {uuid.uuid4()}"),
        "执照.pdf",
        "business_licence",
        valid_until=until.isoformat(),
    ).json()
    study = upload(
        client,
        w.unit,
        pdf(f"可研 {uuid.uuid4()}"),
        "可研.pdf",
        "feasibility_study",
        project_id=w.project["id"],
    ).json()
    # Another project's study is never offered for this one.
    upload(
        client,
        w.unit,
        pdf(f"其他 {uuid.uuid4()}"),
        "x.pdf",
        "feasibility_study",
        project_id=w.other_project["id"],
    )

    codes = ["business_licence", "feasibility_study", "eia_report"]
    offered = service.offers(owner_conn, w.unit.org_id, w.project["id"], codes, until)
    assert {c: [m.id for m in ms] for c, ms in offered.items()} == {
        "business_licence": [licence["id"]],  # valid through its last day
        "eia_report": [],
        "feasibility_study": [study["id"]],
    }
    offered = service.offers(owner_conn, w.unit.org_id, w.project["id"], codes, until + timedelta(days=1))
    assert offered["business_licence"] == [] and [m.id for m in offered["feasibility_study"]] == [study["id"]]
    # The library hides it after its date unless asked (here: made expired in the database).
    owner_conn.execute(
        "UPDATE material.material SET valid_until = %s WHERE id = %s",
        (today - timedelta(days=1), licence["id"]),
    )
    listed = client.get("/api/materials?material_code=business_licence", headers=w.unit.headers).json()
    assert listed == []
    listed = client.get(
        "/api/materials?material_code=business_licence&include_expired=true", headers=w.unit.headers
    ).json()
    assert [x["id"] for x in listed] == [licence["id"]]
    # An upload that is already expired is refused.
    r = upload(client, w.unit, png(), "a.png", "photo", valid_until=(today - timedelta(days=2)).isoformat())
    assert r.status_code == 422 and r.json()["code"] == "already_expired"


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as member:
        for _ in range(200):
            member.write(bytes(1024 * 1024))
    return out.getvalue()


def test_refused_uploads_leave_no_row_and_no_file(
    client: TestClient,
    make_org: Any,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    settings: Settings,
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    files = stored_files(settings)
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../../etc/cron.d/x", b"* * * * * root sh")
    cases = [
        (b"<!doctype html><script>alert(1)</script>", "a.html", 415, "unsupported_material_type"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "a.svg",
            415,
            "unsupported_material_type",
        ),
        (_bomb(), "bomb.zip", 413, "zip_bomb"),
        (slip.getvalue(), "slip.zip", 422, "unsafe_zip_path"),
    ]
    for data, name, status, code in cases:
        r = upload(client, w.unit, data, name, "business_licence")
        assert (r.status_code, r.json().get("code")) == (status, code), (name, r.status_code, r.text)
    r = raw_upload(client, w.unit, b"a\x00b.pdf", pdf(f"nul {uuid.uuid4()}"), "business_licence")
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = upload(client, w.unit, png(), "photo.png", "business_licence")
    assert r.status_code == 201  # PNG is fine when no checklist limits the code
    # Wrong purpose for the role, another unit's project, a department's project it has no item in.
    r = client.post(
        "/api/materials",
        files={"file": ("d.pdf", pdf("d"), "application/pdf")},
        data={"material_code": "decision", "purpose": "decision"},
        headers=w.unit.headers,
    )
    assert r.status_code == 403 and r.json()["code"] == "purpose_not_allowed"
    r = upload(
        client, w.unit, pdf(f"x {uuid.uuid4()}"), "x.pdf", "eia_report", project_id=w.other_project["id"]
    )
    assert r.status_code == 404
    r = client.post(
        "/api/materials",
        files={"file": ("d.pdf", pdf(f"d {uuid.uuid4()}"), "application/pdf")},
        data={"material_code": "decision", "purpose": "decision", "project_id": w.project["id"]},
        headers=w.far_reviewer.headers,
    )
    assert r.status_code == 404
    # Exactly one new file (the PNG); only its row in the unit's library; no temporary file left.
    assert len(stored_files(settings)) == len(files) + 1
    assert not [p for p in stored_files(settings) if p.parent.name == "tmp"]
    rows = owner_conn.execute(
        "SELECT material_code, media_type FROM material.material WHERE owner_org_id = %s", (w.unit.org_id,)
    ).fetchall()
    assert rows == [("business_licence", "image/png")]


def test_size_limit_and_gbk_file_name(
    make_org: Any, owner_conn: psycopg.Connection[Any], settings: Settings
) -> None:
    from app.main import create_app
    from tests.helpers import signed_in_account

    small = settings.model_copy(update={"materials_max_bytes": 4096})
    with TestClient(create_app(small)) as client:
        _, code = make_org(OrgKind.PROJECT_UNIT)
        unit = signed_in_account(owner_conn, client, Role.PROJECT_UNIT, code)
        files = stored_files(settings)
        out = io.BytesIO()
        Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(
            out, format="PNG"
        )  # noise: no compression
        big = out.getvalue()
        assert len(big) > 4096
        r = upload(client, unit, big, "big.png", "business_licence")
        assert r.status_code == 413 and r.json()["code"] == "file_too_large"
        assert stored_files(settings) == files

        # A multipart file name in GBK bytes (old Windows tools), sent raw: stored as clean UTF-8.
        r = raw_upload(client, unit, "现场照片.png".encode("gbk"), png(), "site_photo")
        assert r.status_code == 201, r.text
        assert r.json()["file_name"] == "现场照片.png" and r.json()["media_type"] == "image/png"


class _FailingStore(LocalBlobStore):
    """A local store whose placing succeeds and then the process 'crashes' before the commit."""

    def put(self, source: Path, sha256: str) -> bool:
        placed = super().put(source, sha256)
        raise RuntimeError(f"crash after placing {sha256} (new: {placed})")


def test_a_failure_after_placing_leaves_neither_row_nor_file(
    make_org: Any, settings: Settings, tmp_path: Path
) -> None:
    from app.materials.guards import stage_stream

    org_id, _ = make_org(OrgKind.PROJECT_UNIT)
    store = _FailingStore(tmp_path / "files")
    data = pdf(f"crash {uuid.uuid4()}")
    sha = hashlib.sha256(data).hexdigest()
    staged = stage_stream(store, io.BytesIO(data), "a.pdf", 10_000_000, None)
    with psycopg.connect(settings.app_dsn) as conn:
        try:
            service.store_staged(
                conn,
                store,
                Actor.system("tests"),
                org_id,
                staged,
                purpose="application",
                code="business_licence",
                project_id=None,
            )
        except RuntimeError:
            pass
        else:
            raise AssertionError("the store's failure must reach the caller")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM material.blob WHERE sha256 = %s", (sha,)).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM material.material WHERE owner_org_id = %s", (org_id,)
        ).fetchone() == (0,)
    assert store.count() == 0 and list((tmp_path / "files" / "tmp").iterdir()) == []


def test_generated_minutes_are_stored_like_uploads(
    make_org: Any, settings: Settings, owner_conn: psycopg.Connection[Any]
) -> None:
    org_id, _ = make_org(OrgKind.DEPARTMENT)
    store = LocalBlobStore(settings.stored_files_dir)
    data = pdf(f"minutes {uuid.uuid4()}")
    args = ("minutes", "joint_review_minutes", "联合审查会议纪要.pdf", data, "application/pdf")
    with psycopg.connect(settings.app_dsn) as conn:
        first = service.store_generated(conn, Actor.system("tests"), org_id, None, *args, store=store)
        conn.commit()

        # Without a store: the current request's (set by create_app's dependency; here by hand, in a copy of
        # the context so that no other test sees it).
        def in_request() -> service.Material:
            use_store(store)
            return service.store_generated(conn, Actor.system("tests"), org_id, None, *args)

        again = contextvars.copy_context().run(in_request)
        conn.commit()
    assert (first.version, again.version, again.supersedes_id) == (1, 2, first.id)
    assert (first.purpose, first.file_name, first.media_type) == (
        "minutes",
        "联合审查会议纪要.pdf",
        "application/pdf",
    )
    assert first.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path_of(first.sha256).read_bytes() == data


def test_concurrent_uploads_to_one_slot_make_consecutive_versions(
    client: TestClient,
    make_org: Any,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    settings: Settings,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = World(client, make_org, make_account, owner_conn)
    files = [pdf(f"version {i} {uuid.uuid4()}") for i in range(4)]
    shared = pdf(f"shared {uuid.uuid4()}")
    before = len(stored_files(settings))
    with ThreadPoolExecutor(6) as pool:
        slot = [
            pool.submit(upload, client, w.unit, data, f"{i}.pdf", "site_plan") for i, data in enumerate(files)
        ]
        same = [pool.submit(upload, client, w.unit, shared, "s.pdf", f"shared_{i}") for i in range(2)]
        answers = [f.result() for f in slot + same]
    assert [r.status_code for r in answers] == [201] * 6
    rows = owner_conn.execute(
        "SELECT version, supersedes_id, superseded_at IS NULL, id FROM material.material"
        " WHERE owner_org_id = %s AND material_code = 'site_plan' ORDER BY version",
        (w.unit.org_id,),
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert [r[1] for r in rows] == [None, rows[0][3], rows[1][3], rows[2][3]]
    assert [r[2] for r in rows] == [False, False, False, True]
    # Five distinct contents: five new files, the shared bytes once.
    assert len(stored_files(settings)) == before + 5


def test_decision_documents_and_minutes_are_read_through_their_application(
    client: TestClient, make_org: Any, make_account: Any, owner_conn: psycopg.Connection[Any]
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    item_id, dept_id = owner_conn.execute(
        "SELECT id, department_id FROM approval.item WHERE project_id = %s AND stage = %s"
        " AND department_id = %s ORDER BY id LIMIT 1",
        (w.project["id"], w.stage, w.reviewer.org_id),
    ).fetchone()
    # The department stores its decision document for a project where it has an item.
    data = pdf(f"decision {uuid.uuid4()}")
    r = client.post(
        "/api/materials",
        files={"file": ("批复.pdf", data, "application/pdf")},
        data={"material_code": "approval_decision", "purpose": "decision", "project_id": w.project["id"]},
        headers=w.reviewer.headers,
    )
    assert r.status_code == 201, r.text
    decision = r.json()
    assert (decision["owner_org_id"], decision["purpose"]) == (w.reviewer.org_id, "decision")
    content = f"/api/materials/{decision['id']}/content"
    # Until an opinion references it, the project's unit does not see it.
    assert client.get(content, headers=w.unit.headers).status_code == 404
    app_id = application(owner_conn, w.project["id"], w.stage)  # opinions are given on an application's items
    owner_conn.execute(
        "INSERT INTO approval.opinion (item_id, decision, document_id, department_id, decided_by_name)"
        " VALUES (%s, 'approve', %s, %s, 'tests')",
        (item_id, decision["id"], dept_id),
    )
    r = client.get(content, headers=w.unit.headers)
    assert r.status_code == 200 and r.content == data
    for acct in (w.other_unit, w.far_reviewer):
        assert client.get(content, headers=acct.headers).status_code == 404

    # Minutes of a joint review of an application: read by the departments with an item of its stage.
    minutes_bytes = pdf(f"minutes {uuid.uuid4()}")
    with psycopg.connect(owner_conn.info.dsn) as conn:
        store = LocalBlobStore(Path(client.app.state.settings.stored_files_dir))  # type: ignore[attr-defined]
        minutes = service.store_generated(
            conn,
            Actor.system("tests"),
            dept_id,
            w.project["id"],
            "minutes",
            "joint_review_minutes",
            "会议纪要.pdf",
            minutes_bytes,
            "application/pdf",
            store=store,
        )
        conn.commit()
    colleague = make_account(
        Role.REVIEWER,
        owner_conn.execute("SELECT code FROM auth.organisation WHERE id = %s", (dept_id,)).fetchone()[0],
    )
    other_dept = owner_conn.execute(
        "SELECT o.code FROM approval.item i JOIN auth.organisation o ON o.id = i.department_id"
        " WHERE i.project_id = %s AND i.stage <> %s AND i.department_id <> %s"
        " AND NOT EXISTS (SELECT 1 FROM approval.item j WHERE j.project_id = i.project_id AND j.stage = %s"
        " AND j.department_id = i.department_id) LIMIT 1",
        (w.project["id"], w.stage, dept_id, w.stage),
    ).fetchone()
    url = f"/api/materials/{minutes.id}/content"
    assert client.get(url, headers=w.unit.headers).status_code == 404
    owner_conn.execute(
        "INSERT INTO approval.joint_review (application_id, lead_department_id, topic, scheduled_at,"
        " minutes_id) VALUES (%s, %s, '联合审查', now(), %s)",
        (app_id, dept_id, minutes.id),
    )
    for acct in (w.unit, colleague):
        r = client.get(url, headers=acct.headers)
        assert r.status_code == 200 and r.content == minutes_bytes
    assert client.get(url, headers=w.other_unit.headers).status_code == 404
    # A department with items only in other stages of the project does not read this stage's minutes.
    assert other_dept is not None
    assert client.get(url, headers=make_account(Role.REVIEWER, other_dept[0]).headers).status_code == 404


def test_a_file_lost_from_the_store_is_named_not_a_bare_server_error(
    client: TestClient,
    make_org: Any,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    settings: Settings,
) -> None:
    w = World(client, make_org, make_account, owner_conn)
    data = png() + uuid.uuid4().bytes  # bytes of this test alone
    m = upload(client, w.unit, data, "现场照片.png", "site_photo").json()
    sha = hashlib.sha256(data).hexdigest()
    (settings.stored_files_dir / "sha256" / sha[:2] / sha[2:4] / sha).unlink()  # lost outside the service
    r = client.get(f"/api/materials/{m['id']}/content", headers=w.unit.headers)
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "material_file_missing"
    assert r.json()["message_zh"].startswith("该材料的文件在存储中缺失")
