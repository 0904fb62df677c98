"""A saturated pool answers 503 within its bounded wait; it never hangs."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_saturated_pool_answers_503_then_recovers(settings: Settings) -> None:
    tight = settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1, "pool_timeout_s": 0.5})
    app = create_app(tight)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        held = app.state.pool.getconn()
        try:
            started = time.monotonic()
            r = client.get("/api/health")
            waited = time.monotonic() - started
        finally:
            app.state.pool.putconn(held)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "database_busy"
        assert r.headers["retry-after"] == "2"
        assert waited < 30  # bounded by pool_timeout_s, not by a hang (not a speed assertion)
        assert client.get("/api/health").status_code == 200


def test_statement_timeout_is_set_on_pooled_connections(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"statement_timeout_ms": 1234}))
    with TestClient(app):
        with app.state.pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
            assert conn.execute("SELECT current_user").fetchone() == (settings.app_role,)


def test_a_connection_killed_while_idle_is_replaced_not_lent(
    settings: Settings, owner_conn: Any, monkeypatch: Any
) -> None:
    """Busy connections skip the ping; one idle past IDLE_CHECK_S is pinged and replaced if dead."""
    from app import db

    app = create_app(settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1}))
    with TestClient(app):
        pool = app.state.pool
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        owner_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Pretend the connection has been idle for long: the next checkout must ping it.
        monkeypatch.setattr(db, "IDLE_CHECK_S", -1.0)
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != pid
