"""Working-day calendar: official or provisional (暂定) years; the shipped provisional years are loaded.

A provisional year holds the statutory public holidays only (no 调休, no 补休, no bridging days) and is used
until the State Council's arrangement for that year is loaded (``PUT /api/calendar/years/{year}``).

Revision ID: 0008_provisional_calendar
Revises: 0007_demolition
Create Date: 2026-11-29
"""

import json
from pathlib import Path

from alembic import op
from sqlalchemy import text

PROVISIONAL_SEED = (
    Path(__file__).resolve().parents[2] / "app" / "calendar" / "data" / "cn_holidays_provisional.json"
)

revision = "0008_provisional_calendar"
down_revision = "0007_demolition"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE approval.calendar_year
          ADD COLUMN status text NOT NULL DEFAULT 'official'
          CHECK (status IN ('official', 'provisional'));
        """
    )
    _seed_provisional()


def _seed_provisional() -> None:
    """Load every shipped provisional year that has no calendar (an official year is never replaced)."""
    seed = json.loads(PROVISIONAL_SEED.read_text(encoding="utf-8"))
    bind = op.get_bind()
    loaded = {r[0] for r in bind.execute(text("SELECT year FROM approval.calendar_year"))}
    for year, days in seed["years"].items():
        if int(year) in loaded:
            continue
        bind.execute(
            text("INSERT INTO approval.calendar_year (year, source, status) VALUES (:y, :s, 'provisional')"),
            {"y": int(year), "s": seed["source"]},
        )
        bind.execute(
            text(
                "INSERT INTO approval.calendar_day (day, year, working, name)"
                " VALUES (CAST(:d AS date), :y, false, :n)"
            ),
            [{"d": d["date"], "y": int(year), "n": d["name"]} for d in days["holidays"]],
        )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM approval.calendar_year WHERE status = 'provisional';
        ALTER TABLE approval.calendar_year DROP COLUMN status;
        """
    )
