"""Migration 0008 on a database of its own: an official year loaded before it stays official, the shipped
provisional years fill the others, and the downgrade removes only what it added."""

from __future__ import annotations

from typing import Any

import psycopg
from alembic import command

from app.calendar.store import provisional_years
from app.migrate import alembic_config
from tests.conftest import cluster_lock, create_throwaway_database, drop_database


def statuses(conn: psycopg.Connection[Any]) -> dict[int, str]:
    return dict(conn.execute("SELECT year, status FROM approval.calendar_year").fetchall())


def test_provisional_years_fill_only_the_years_without_a_calendar() -> None:
    settings, name = create_throwaway_database("duogui_calmig")
    cfg = alembic_config(settings.owner_dsn, settings.app_role)
    try:
        with cluster_lock():
            command.upgrade(cfg, "0007_demolition")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            # An administrator loaded the official 2027 arrangement before the upgrade (made-up days).
            conn.execute("INSERT INTO approval.calendar_year (year, source) VALUES (2027, 'admin')")
            conn.execute(
                "INSERT INTO approval.calendar_day (day, year, working, name) VALUES"
                " ('2027-01-01', 2027, false, '元旦'), ('2027-02-20', 2027, true, '春节调休上班')"
            )
        with cluster_lock():
            command.upgrade(cfg, "head")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            status = statuses(conn)
            assert {y: status[y] for y in (2024, 2025, 2026, 2027)} == dict.fromkeys(
                (2024, 2025, 2026, 2027), "official"
            )
            assert {y for y, s in status.items() if s == "provisional"} == set(provisional_years()) - {
                2025,
                2026,
                2027,
            }
            days_2027 = conn.execute(
                "SELECT count(*) FROM approval.calendar_day WHERE year = 2027"
            ).fetchone()
            assert days_2027 == (2,)  # untouched
            days_2028 = conn.execute(
                "SELECT count(*), bool_or(working) FROM approval.calendar_day WHERE year = 2028"
            ).fetchone()
            assert days_2028 == (12, False)  # 中秋 is 10-3 in 2028: one day, two names; no 调休
        with cluster_lock():
            command.downgrade(cfg, "0007_demolition")
        with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
            years = conn.execute("SELECT year FROM approval.calendar_year ORDER BY year").fetchall()
            assert [y for (y,) in years] == [2024, 2025, 2026, 2027]
    finally:
        drop_database(name)
