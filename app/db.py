"""The psycopg 3 connection pool and the typed connection dependency routes use."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from app.settings import Settings


def connection_options(settings: Settings) -> str:
    """Server options set on every pooled connection: the unprivileged role and timeouts."""
    return (
        f"-c role={settings.app_role}"
        f" -c statement_timeout={settings.statement_timeout_ms}"
        f" -c lock_timeout={min(settings.statement_timeout_ms, 10_000)}"
        " -c idle_in_transaction_session_timeout=60000"
        " -c timezone=Asia/Shanghai"
        # Tile and identify statements are many short queries; JIT compilation only adds latency to them.
        " -c jit=off"
    )


# A connection used within this many seconds is handed out without a ping: under load that saves a
# round trip per request; a connection idle longer (the database may have restarted meanwhile) is
# pinged first and replaced if broken.
IDLE_CHECK_S = 2.0
_returned_at: weakref.WeakKeyDictionary[Connection[TupleRow], float] = weakref.WeakKeyDictionary()


class ServicePool(ConnectionPool[Connection[TupleRow]]):
    """The service's pool: remembers when each connection was last given back (see :data:`IDLE_CHECK_S`).

    Recorded in :meth:`putconn`, in the caller's thread: a pool ``reset`` callback would do it too, but
    psycopg_pool then hands every returned connection to a background worker thread, and waking that
    thread (and sharing the interpreter lock with it) on every request measurably slowed map tiles.
    """

    def putconn(self, conn: Connection[TupleRow]) -> None:
        """Return ``conn`` to the pool, noting the time."""
        _returned_at[conn] = time.monotonic()
        super().putconn(conn)


def _check_if_idle(conn: Connection[TupleRow]) -> None:
    last = _returned_at.get(conn)
    if last is None or time.monotonic() - last > IDLE_CHECK_S:
        ConnectionPool.check_connection(conn)


def create_pool(settings: Settings) -> ConnectionPool[Connection[TupleRow]]:
    """Build (but do not open) the service pool; waiting for a connection is bounded."""
    return ServicePool(
        settings.app_dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs={
            "application_name": "duogui",
            "options": connection_options(settings),
            "connect_timeout": 5,
        },
        check=_check_if_idle,
        open=False,
        name="duogui",
    )


def get_conn(request: Request) -> Iterator[Connection[TupleRow]]:
    """Lend a pooled connection for one request; PoolTimeout (→ 503) when none is free in time.

    Leaving the block commits (or rolls back on an error). The dependency is function-scoped, so that
    happens when the route returns and before the response is sent: a client told 201 can read what it
    wrote from any other connection, and a failed commit answers as an error, never as a success.
    """
    pool: ConnectionPool[Connection[TupleRow]] = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[Connection[TupleRow], Depends(get_conn, scope="function")]
