"""The demo history's clock: service calls made today, dated on a day of the simulated past.

The history is written through the service layer (the functions the API calls), and the service stamps
what it writes with the database's ``now()`` — the start of the transaction. :func:`on_day` runs a block
of service calls in one transaction and, before it commits, moves every business timestamp the block
wrote (every ``timestamptz`` column of the business schemas equal to the transaction's ``now()``) to the
simulated moment. Because ``now()`` is constant within a transaction and no earlier transaction can have
written that exact value, the match is exact: nothing written before is touched.

The audit log is not rewritten: ``audit.event`` is append-only and stamped with ``clock_timestamp()``,
so the audit trail of the history says truthfully when the generator wrote it (its actor is the
generator's account), while the business records carry the simulated dates the pages and KPIs read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any

from psycopg import Connection, sql
from psycopg.pq import TransactionStatus

from layers.district import DISTRICT

# Schemas whose timestamps are business dates (never auth, audit or the base map).
BUSINESS_SCHEMAS = ("project", "approval", "material", "demolition", "preevaluation", "gap")


def business_columns(conn: Connection[Any]) -> list[tuple[str, str, str]]:
    """Every (schema, table, column) of type timestamptz in the business schemas (base tables only)."""
    rows = conn.execute(
        """
        SELECT c.table_schema, c.table_name, c.column_name
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = ANY(%s) AND t.table_type = 'BASE TABLE'
           AND c.data_type = 'timestamp with time zone'
         ORDER BY 1, 2, 3
        """,
        (list(BUSINESS_SCHEMAS),),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment of a district day (the district's time zone)."""
    return datetime.combine(day, time(hour, minute), tzinfo=DISTRICT.tz)


class Clock:
    """Backdates what one transaction wrote; built once per generator run."""

    def __init__(self, conn: Connection[Any]) -> None:
        self.conn = conn
        by_table: dict[tuple[str, str], list[str]] = {}
        with conn.transaction():  # its own transaction: leaves an idle connection idle
            columns_found = business_columns(conn)
        for schema, table, column in columns_found:
            by_table.setdefault((schema, table), []).append(column)
        # One UPDATE per table: each column set to the moment where it equals now(), else kept.
        self.statements = {
            (schema, table): sql.SQL("UPDATE {t} SET {sets} WHERE {any}").format(
                t=sql.Identifier(schema, table),
                sets=sql.SQL(", ").join(
                    sql.SQL("{c} = CASE WHEN {c} = now() THEN %(when)s ELSE {c} END").format(
                        c=sql.Identifier(c)
                    )
                    for c in columns
                ),
                any=sql.SQL(" OR ").join(sql.SQL("{c} = now()").format(c=sql.Identifier(c)) for c in columns),
            )
            for (schema, table), columns in by_table.items()
        }

    @contextmanager
    def on_day(self, when: datetime) -> Iterator[Connection[Any]]:
        """Run the block in one transaction whose business timestamps read ``when``.

        The connection must be idle: inside an open transaction the block would be a savepoint, every day
        would share one ``now()`` and nothing would commit until the end of the run."""
        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            raise RuntimeError("the demo clock needs an idle connection (commit first, or use autocommit)")
        with self.conn.transaction():
            yield self.conn
            self.backdate(when)

    def backdate(self, when: datetime) -> None:
        """Move this transaction's business timestamps to ``when``.

        Only the tables this transaction wrote are visited (the server's per-transaction statistics name
        them), so a day's backdating does not scan every business table."""
        touched = self.conn.execute(
            "SELECT schemaname, relname FROM pg_stat_xact_user_tables"
            " WHERE schemaname = ANY(%s) AND n_tup_ins + n_tup_upd > 0",
            (list(BUSINESS_SCHEMAS),),
        ).fetchall()
        for key in sorted((str(s), str(t)) for s, t in touched):
            statement = self.statements.get(key)
            if statement is not None:
                self.conn.execute(statement, {"when": when})
