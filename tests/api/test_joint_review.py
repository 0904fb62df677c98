"""Joint review (联合审查): the lead schedules, each participant records its own opinion, missing opinions
block the minutes (409 naming who), the minutes list every opinion and the conclusion, are stored once in
the content-addressed store as the lead's material, and every step is an application event and an audit
record. Hostile text in the topic and opinions comes back as text."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.auth.deps import Grant, Principal
from app.auth.policy import Action, Role, Scope
from app.errors import Conflict
from app.materials.storage import LocalBlobStore
from app.settings import Settings
from app.window import minutes
from layers.audit import Actor
from tests.helpers import Account
from tests.html_check import PAYLOADS, assert_inert, parse
from tests.window_docs_world import Accepted, accepted_application

# Script, attribute and <title> break-outs, with odd Unicode: a right-to-left override, a zero-width space,
# an astral letter, a combining accent and a full-width less-than sign.
TOPIC = PAYLOADS[0] + "\u202e会商\u200b𝕏e\u0301＜"
OPINION = PAYLOADS[1] + " 建议优化排水方案\u202e"


def _schedule(client: TestClient, lead: Account, app: Accepted, **extra: Any) -> Any:
    body = {
        "topic": TOPIC,
        "scheduled_at": "2026-02-26T09:30:00",
        "place": "区政务服务中心 3 楼会议室",
        "departments": ["water", "eco-env"],
        "item_ids": [app.items["land_pre_review"]["id"]],
        **extra,
    }
    return client.post(f"/api/applications/{app.id}/joint-reviews", json=body, headers=lead.headers)


def _opinion(client: TestClient, who: Account, review_id: int, decision: str, text: str, **kw: Any) -> Any:
    return client.put(
        f"/api/joint-reviews/{review_id}/opinion",
        json={"decision": decision, "opinion": text},
        headers={**who.headers, **kw.get("headers", {})},
    )


def test_joint_review_from_scheduling_to_stored_minutes(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any, settings: Settings
) -> None:
    app = accepted_application(client, owner_conn, make_account)
    pnr, water, eco = (make_account(Role.REVIEWER, c) for c in ("pnr", "water", "eco-env"))
    drc, housing = make_account(Role.REVIEWER, "drc"), make_account(Role.REVIEWER, "housing")

    # Who may schedule: a department with an item in the application; not the window, not an outsider.
    assert _schedule(client, app.window, app).status_code == 403
    assert _schedule(client, housing, app).status_code == 404
    r = _schedule(client, pnr, app, departments=["water", "no-such-dept"])
    assert r.status_code == 422 and r.json()["code"] == "unknown_department"
    r = _schedule(client, pnr, app, item_ids=[999999999])
    assert r.status_code == 422 and r.json()["code"] == "unknown_item"
    r = _schedule(client, pnr, app)
    assert r.status_code == 201, r.text
    review = r.json()
    assert review["status"] == "scheduled" and review["topic"] == TOPIC
    assert review["lead_department_code"] == "pnr"
    assert review["scheduled_at"].startswith("2026-02-26T09:30:00") and review["scheduled_at"].endswith(
        "+08:00"
    )
    participants = {p["department_code"]: p for p in review["participants"]}
    assert list(participants) == ["pnr", "eco-env", "water"]  # the lead first, then by code
    assert participants["pnr"]["item_id"] == app.items["land_pre_review"]["id"]
    assert participants["water"]["item_id"] == app.items["soil_conservation"]["id"]
    rid = review["id"]

    # Opinions: each participant its own row; others 403 (may read the application) or 404 (may not).
    assert _opinion(client, pnr, rid, "approve", "同意选址。").status_code == 200
    r = _opinion(client, drc, rid, "approve", "x")
    assert r.status_code == 403 and r.json()["code"] == "not_participant"
    assert _opinion(client, housing, rid, "approve", "x").status_code == 404
    r = _opinion(client, water, rid, "approve_conditional", OPINION)
    assert r.status_code == 200
    version = r.json()["version"]
    r = client.post(f"/api/joint-reviews/{rid}/minutes", headers=pnr.headers)
    assert r.status_code == 409 and r.json()["code"] == "opinions_missing"
    assert r.json()["missing"] == ["eco-env"] and "深圳市生态环境局龙岗管理局" in r.json()["message_zh"]
    # A stale If-Match: 412, nothing recorded.
    r = _opinion(client, eco, rid, "refuse", "x", headers={"If-Match": f'"{version - 1}"'})
    assert r.status_code == 412
    r = _opinion(
        client,
        eco,
        rid,
        "refuse",
        "项目位于饮用水源二级保护区，不同意。",
        headers={"If-Match": f'"{version}"'},
    )
    assert r.status_code == 200
    assert (
        client.post(f"/api/joint-reviews/{rid}/minutes", headers=water.headers).json()["code"] == "not_lead"
    )
    assert client.get(f"/api/joint-reviews/{rid}/minutes.html", headers=pnr.headers).status_code == 404

    r = client.post(f"/api/joint-reviews/{rid}/minutes", headers=pnr.headers)
    assert r.status_code == 201, r.text
    held = r.json()
    assert held["status"] == "held" and held["minutes_id"] and held["held_at"]
    assert _opinion(client, water, rid, "approve", "改主意").json()["code"] == "not_scheduled"

    # The stored minutes: the lead's material (purpose minutes), bytes once under sha256/ab/cd/<sha>.
    owner, purpose, project_id, sha, size, media = owner_conn.execute(
        "SELECT o.code, m.purpose, m.project_id, m.sha256, m.size, m.media_type FROM material.material m"
        " JOIN auth.organisation o ON o.id = m.owner_org_id WHERE m.id = %s",
        (held["minutes_id"],),
    ).fetchone()
    assert (owner, purpose, project_id, media) == ("pnr", "minutes", app.project["id"], "text/html")
    stored = settings.stored_files_dir / "sha256" / sha[:2] / sha[2:4] / sha
    data = stored.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
    page = data.decode()
    parsed = parse(page)
    (style,) = parsed.all("style")  # font and stylesheet inline, allowed by its own meta policy only
    assert "@font-face" in style.text and "script" not in {e.tag for e in parsed.elements}
    _check_minutes(page, refused=True)

    # Served: the same minutes, inert under the app's strict policy; English too; and a PDF.
    r = client.get(f"/api/joint-reviews/{rid}/minutes.html", headers=app.unit.headers)
    assert r.status_code == 200
    assert_inert(r.text, r.headers.get("content-security-policy"))
    _check_minutes(r.text, refused=True)
    english = client.get(f"/api/joint-reviews/{rid}/minutes.html?lang=en", headers=eco.headers).text
    assert "These departments refuse:" in english and "Water Affairs Bureau" in english
    pdf = client.get(f"/api/joint-reviews/{rid}/minutes.pdf", headers=water.headers)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "联合审查会议纪要" in text and "饮用水源二级保护区" in text and "以下部门不同意" in text

    # Every step: an application event and an audit record.
    actions = [
        a
        for (a,) in owner_conn.execute(
            "SELECT action FROM approval.application_event WHERE application_id = %s"
            " AND action LIKE 'joint_review.%%' ORDER BY id",
            (app.id,),
        ).fetchall()
    ]
    assert actions == ["joint_review.scheduled"] + ["joint_review.opinion"] * 3 + ["joint_review.minutes"]
    audited = owner_conn.execute(
        "SELECT action FROM audit.event WHERE object_type = 'joint_review' AND object_id = %s ORDER BY id",
        (str(rid),),
    ).fetchall()
    assert [a for (a,) in audited] == actions
    listed = client.get(f"/api/applications/{app.id}/joint-reviews", headers=app.unit.headers).json()
    assert [x["id"] for x in listed] == [rid] and listed[0]["participants"][2]["opinion"] == OPINION


def _check_minutes(page: str, refused: bool) -> None:
    """Every participant's opinion and decision, the topic as text, the conclusion listing the refusal."""
    parsed = parse(page)
    cells = [td.text for td in parsed.all("td")]
    assert TOPIC in cells  # escaped, odd Unicode intact
    assert "规划和自然资源局龙岗管理局、深圳市生态环境局龙岗管理局、龙岗区水务局" in cells
    at = cells.index("龙岗区水务局", cells.index("同意选址。"))
    assert cells[at : at + 4] == ["龙岗区水务局", "水土保持方案审批", "有条件同意", OPINION]
    assert cells[cells.index("同意选址。") - 1] == "同意"
    conclusion = [p.text for p in parsed.all("p") if "conclusion" in (p.attrs.get("class") or "")]
    assert conclusion == (["以下部门不同意："] if refused else ["参会部门一致同意。"])
    assert cells[-2:] == ["深圳市生态环境局龙岗管理局", "项目位于饮用水源二级保护区，不同意。"]


def test_unanimous_minutes_cancel_and_state_rules(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any
) -> None:
    app = accepted_application(client, owner_conn, make_account)
    pnr, water = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "water")
    r = _schedule(client, water, app, departments=[], item_ids=[app.items["land_planning_permit"]["id"]])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert [p["department_code"] for p in r.json()["participants"]] == ["water", "pnr"]
    for who in (water, pnr):
        assert _opinion(client, who, rid, "approve", "同意。").status_code == 200
    assert client.post(f"/api/joint-reviews/{rid}/minutes", headers=water.headers).status_code == 201
    page = client.get(f"/api/joint-reviews/{rid}/minutes.html", headers=pnr.headers).text
    parsed = parse(page)
    assert [p.text for p in parsed.all("p") if "conclusion" in (p.attrs.get("class") or "")] == [
        "参会部门一致同意。"
    ]

    # Alone it is no joint review; cancelling is the lead's, once.
    r = _schedule(client, water, app, departments=[], item_ids=[])
    assert r.status_code == 422 and r.json()["code"] == "too_few_participants"
    rid = _schedule(client, water, app).json()["id"]
    assert client.post(f"/api/joint-reviews/{rid}/cancel", headers=pnr.headers).json()["code"] == "not_lead"
    r = client.post(f"/api/joint-reviews/{rid}/cancel", headers=water.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/api/joint-reviews/{rid}/cancel", headers=water.headers).status_code == 409
    assert _opinion(client, pnr, rid, "approve", "x").status_code == 409

    # Only while the application is under review.
    owner_conn.execute("UPDATE approval.application SET status = 'correction' WHERE id = %s", (app.id,))
    r = _schedule(client, water, app)
    assert r.status_code == 409 and r.json()["code"] == "not_under_review"
    events = owner_conn.execute(
        "SELECT action FROM approval.application_event WHERE application_id = %s"
        " AND action LIKE 'joint_review.%%' ORDER BY id",
        (app.id,),
    ).fetchall()
    assert [a for (a,) in events][-2:] == ["joint_review.scheduled", "joint_review.cancelled"]


def test_minutes_are_not_stored_over_an_opinion_changed_while_they_were_rendered(
    client: TestClient, owner_conn: psycopg.Connection[Any], make_account: Any, settings: Settings
) -> None:
    """The minutes are rendered between two short transactions: a change in between refuses them (409)
    and leaves no material row; the review stays scheduled."""
    app = accepted_application(client, owner_conn, make_account)
    pnr, water = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "water")
    rid = _schedule(client, pnr, app, departments=["water"]).json()["id"]
    for who in (pnr, water):
        assert _opinion(client, who, rid, "approve", "同意。").status_code == 200
    principal = Principal(pnr.id, pnr.username, Role.REVIEWER, pnr.org_id, False, None, datetime.now(UTC))
    grant = Grant(principal, Action.APPLICATIONS_REVIEW, Scope.ORG, Actor(pnr.id, pnr.username, pnr.org_id))
    review, head = minutes.minutes_snapshot(owner_conn, grant, rid)
    font_dir = settings.web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"
    store = LocalBlobStore(settings.stored_files_dir)
    staged = minutes.render_and_stage(review, head, font_dir, store)
    assert _opinion(client, water, rid, "refuse", "改为不同意。").status_code == 200  # meanwhile
    with pytest.raises(Conflict) as refused:
        minutes.hold(owner_conn, grant, review, head["project_id"], store, staged)
    assert refused.value.code == "changed_meanwhile"
    left = owner_conn.execute(
        "SELECT r.status, r.minutes_id, (SELECT count(*) FROM material.material m"
        " WHERE m.material_code = %s) FROM approval.joint_review r WHERE r.id = %s",
        (minutes.minutes_code(rid), rid),
    ).fetchone()
    assert left == ("scheduled", None, 0)
    assert not staged.path.exists()  # the staged file is removed with the refusal
