"""Health and error rendering."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.settings import PROJECT_ROOT


def test_health_reports_database_postgis_and_revision(client: TestClient, owner_conn: object) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    db = body["database"]
    assert db["reachable"] is True
    assert db["postgres_version"].startswith("15.")
    expected = owner_conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()[
        0
    ]  # type: ignore[attr-defined]
    assert db["postgis_version"] == expected and expected.startswith("3.")
    newest = sorted(p.stem for p in (PROJECT_ROOT / "migrations" / "versions").glob("0*.py"))[-1]
    assert db["revision"] == db["head_revision"] == newest
    assert r.headers["x-request-id"]


def test_request_id_is_echoed_when_sane(client: TestClient) -> None:
    assert client.get("/api/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    bad = client.get("/api/health", headers={"X-Request-ID": "<script>"}).headers["x-request-id"]
    assert bad != "<script>" and len(bad) == 32


def test_openapi_document_is_served(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["info"]["title"].startswith("多规合一")
    assert "/api/health" in doc["paths"]


def test_unknown_api_path_is_a_problem_document(client: TestClient) -> None:
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "请求的资源不存在。"


def test_validation_errors_are_422_problems_in_chinese(client: TestClient) -> None:
    r = client.post("/api/auth/token", data={"username": "x"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input"
    assert body["detail"].startswith("输入内容无效")
    assert any(e["field"] == "password" for e in body["errors"])


def test_web_app_and_offline_docs_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "多规合一平台" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/docs/assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
