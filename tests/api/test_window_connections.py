"""Connection discipline of the one window's routes: no pooled connection is held while a document is
rendered (HTML, PDF, minutes), an upload is hashed and inspected, or a stored file is opened (with an S3
store, a request to the object store). Each of those steps is observed while it runs: the database gate's
places in use must be none (requests are served one at a time here, so a place taken is this request's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.materials import routes as material_routes
from app.materials.routes import store_of
from app.overview import routes as overview_routes
from app.window import document_routes, joint_routes
from tests.api.test_materials import pdf
from tests.window_docs_world import accepted_application


def test_no_connection_is_held_while_rendering_hashing_or_opening_files(
    client: TestClient,
    make_account: Any,
    owner_conn: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_state = client.app.state  # type: ignore[attr-defined]
    seen: dict[str, list[int]] = {}

    def observed(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            seen.setdefault(name, []).append(app_state.db_gate.in_use)
            return real(*args, **kwargs)

        return run

    documents = document_routes.documents
    monkeypatch.setattr(documents, "pdf", observed("pdf", documents.pdf))
    monkeypatch.setattr(documents, "served_page", observed("page", documents.served_page))
    minutes = joint_routes.minutes
    monkeypatch.setattr(minutes, "render_and_stage", observed("minutes", minutes.render_and_stage))
    monkeypatch.setattr(material_routes, "stage_stream", observed("upload", material_routes.stage_stream))

    class Request:  # what store_of needs of a request
        app = client.app

    store = store_of(Request())  # type: ignore[arg-type]
    monkeypatch.setattr(store, "open", observed("open", store.open))

    accepted = accepted_application(client, owner_conn, make_account)
    a = f"/api/applications/{accepted.id}"
    for url in (f"{a}/receipt.html", f"{a}/receipt.pdf"):
        r = client.get(url, headers=accepted.window.headers)
        assert r.status_code == 200, r.text

    # An upload, then its download.
    r = client.post(
        "/api/materials",
        files={"file": ("营业执照.pdf", pdf("营业执照"), "application/pdf")},
        data={"material_code": "business_licence", "purpose": "application"},
        headers=accepted.unit.headers,
    )
    assert r.status_code == 201, r.text
    r = client.get(f"/api/materials/{r.json()['id']}/content", headers=accepted.unit.headers)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")

    # A joint review's minutes, rendered and stored, then read as HTML and PDF.
    pnr, water = make_account(Role.REVIEWER, "pnr"), make_account(Role.REVIEWER, "water")
    r = client.post(
        f"{a}/joint-reviews",
        json={"topic": "会商", "scheduled_at": "2026-02-13T09:30", "departments": ["water"]},
        headers=pnr.headers,
    )
    assert r.status_code == 201, r.text
    review = r.json()["id"]
    for who in (pnr, water):
        r = client.put(
            f"/api/joint-reviews/{review}/opinion",
            json={"decision": "approve", "opinion": "同意"},
            headers=who.headers,
        )
        assert r.status_code == 200, r.text
    assert client.post(f"/api/joint-reviews/{review}/minutes", headers=pnr.headers).status_code == 201
    for url in (f"/api/joint-reviews/{review}/minutes.html", f"/api/joint-reviews/{review}/minutes.pdf"):
        assert client.get(url, headers=pnr.headers).status_code == 200

    assert seen == {"page": [0, 0], "pdf": [0, 0], "upload": [0], "open": [0], "minutes": [0]}


def test_the_overview_workbook_is_built_with_no_connection_held(
    client: TestClient, make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leaders' overview export reads its figures, gives the connection back, then builds the XLSX."""
    app_state = client.app.state  # type: ignore[attr-defined]
    seen: list[int] = []
    real = overview_routes._workbook

    def observed(data: Any) -> bytes:
        seen.append(app_state.db_gate.in_use)
        return real(data)

    monkeypatch.setattr(overview_routes, "_workbook", observed)
    r = client.get("/api/overview.xlsx", headers=make_account(Role.LEADER, "drc").headers)
    assert r.status_code == 200 and r.content.startswith(b"PK")
    assert seen == [0]
