"""A saturated pool answers 503 within its bounded wait; it never hangs."""

from __future__ import annotations

import time

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
