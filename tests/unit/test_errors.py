"""Error rendering: problem documents, language negotiation, no stack traces."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.errors import Conflict, prefers_english
from app.main import create_app
from app.settings import Settings


def _request(accept_language: str) -> Request:
    return Request({"type": "http", "headers": [(b"accept-language", accept_language.encode())]})


def test_language_negotiation() -> None:
    assert not prefers_english(_request(""))
    assert not prefers_english(_request("zh-CN,zh;q=0.9,en;q=0.8"))
    assert prefers_english(_request("en-US,en;q=0.9"))
    assert prefers_english(_request("zh;q=0.3, en;q=0.7"))
    assert not prefers_english(_request("en;q=bogus, zh"))


def test_unexpected_errors_are_500_problems_without_traces() -> None:
    app = create_app(Settings(database_url="host=/nonexistent dbname=x", pool_min_size=0))

    @app.get("/api/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    @app.get("/api/conflict", include_in_schema=False)
    def conflict() -> None:
        raise Conflict("编号冲突。", "Code conflict.", current={"version": 3})

    # The web app is mounted at "/" and would shadow routes added later: move them in front.
    app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.json()["detail"].startswith("服务器内部错误")
    c = client.get("/api/conflict", headers={"Accept-Language": "en"})
    assert c.status_code == 409
    assert c.json()["detail"] == "Code conflict." and c.json()["current"] == {"version": 3}


def test_database_down_is_503_not_500() -> None:
    app = create_app(Settings(database_url="host=/nonexistent dbname=x", pool_min_size=0, pool_timeout_s=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/health")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable"


def test_a_transaction_aborted_for_another_is_a_409_to_retry_not_a_503() -> None:
    """A deadlock or serialization failure (PostgreSQL aborted the transaction; nothing was written) is a
    conflict to retry, not "the database is unavailable" (both are OperationalErrors)."""
    app = create_app(Settings(database_url="host=/nonexistent dbname=x", pool_min_size=0))

    @app.get("/api/deadlock", include_in_schema=False)
    def deadlock() -> None:
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    @app.get("/api/serialization", include_in_schema=False)
    def serialization() -> None:
        raise psycopg.errors.SerializationFailure("could not serialize access")

    app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
    client = TestClient(app, raise_server_exceptions=False)
    for url in ("/api/deadlock", "/api/serialization"):
        r = client.get(url)
        assert r.status_code == 409 and r.json()["code"] == "concurrent_update", r.text
        assert r.headers["content-type"] == "application/problem+json" and r.headers["retry-after"] == "1"
        assert "重试" in r.json()["message_zh"] and "retry" in r.json()["message_en"]
