"""Settings: environment names, validation, DSN normalisation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings, normalise_dsn


def test_database_url_alias_and_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db:5432/duogui")
    monkeypatch.setenv("DUOGUI_PORT", "8123")
    s = Settings()
    assert s.port == 8123
    assert s.owner_dsn == "postgresql://u:p@db:5432/duogui"
    assert s.app_dsn == s.owner_dsn  # the pool then switches to the app role
    assert "p@db" not in repr(s)  # secrets are not printed


def test_unsafe_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(app_role="app; DROP TABLE x")
    with pytest.raises(ValidationError):
        Settings(pool_min_size=5, pool_max_size=2)
    with pytest.raises(ValidationError):
        Settings(db_name="Bad-Name")


def test_normalise_dsn() -> None:
    assert normalise_dsn("postgres://a@b/c") == "postgresql://a@b/c"
    assert normalise_dsn("host=/tmp dbname=x") == "host=/tmp dbname=x"
