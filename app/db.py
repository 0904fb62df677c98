"""The psycopg 3 connection pool and the typed connection dependency routes use."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request
from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from app.errors import ServiceBusy
from app.settings import Settings
from layers.district import DISTRICT


def connection_options(settings: Settings) -> str:
    """Server options set on every pooled connection: the unprivileged role and timeouts."""
    return (
        f"-c role={settings.app_role}"
        f" -c statement_timeout={settings.statement_timeout_ms}"
        f" -c lock_timeout={min(settings.statement_timeout_ms, 10_000)}"
        " -c idle_in_transaction_session_timeout=60000"
        f" -c timezone={DISTRICT.time_zone}"
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


class AdmissionGate:
    """Admission to a scarce resource (pooled connections, CPU-heavy work), waited for in the event loop.

    Requests run their blocking work in AnyIO's worker threads. Had they waited for a pooled connection
    *inside* a worker thread, a burst larger than the pool would park every thread in ``getconn`` while
    the requests that do hold a connection wait for a thread to run in: a stall that lasts until the pool
    timeout fires, again and again (measured: 100 users fell from 45 to 4.5–10 req/s). Waiting here, as a
    coroutine, costs no thread; only the admitted — at most ``capacity`` — ever take one.

    Waiting is bounded twice: by ``timeout_s``, and by ``queue_limit`` waiters, beyond which a request is
    refused at once. Either way the answer is a fast 503 with ``Retry-After``, never a stall.
    """

    def __init__(self, name: str, capacity: int, timeout_s: float, queue_limit: int) -> None:
        self.name = name
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.queue_limit = queue_limit
        self._free = asyncio.Semaphore(capacity)
        self.waiting = 0
        self.admitted_total = 0
        self.refused_total = 0

    @property
    def in_use(self) -> int:
        """How many requests hold a place now."""
        return self.capacity - self._free._value  # noqa: SLF001 (asyncio exposes no public count)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one place for the block; raise :class:`ServiceBusy` (503) when none comes in time."""
        if self._free.locked() and self.waiting >= self.queue_limit:
            self.refused_total += 1
            raise self._busy()
        self.waiting += 1
        try:
            # asyncio.timeout, not wait_for: a place granted as the wait times out is given back by the
            # semaphore itself, never lost.
            async with asyncio.timeout(self.timeout_s):
                await self._free.acquire()
        except TimeoutError:
            self.refused_total += 1
            raise self._busy() from None
        finally:
            self.waiting -= 1
        self.admitted_total += 1
        try:
            yield
        finally:
            self._free.release()

    def _busy(self) -> ServiceBusy:
        return ServiceBusy.for_gate(self.name)

    def stats(self) -> dict[str, int | float | str]:
        """Counters for the health endpoint and the load bench."""
        return {
            "name": self.name,
            "capacity": self.capacity,
            "in_use": self.in_use,
            "waiting": self.waiting,
            "admitted": self.admitted_total,
            "refused": self.refused_total,
            "timeout_s": self.timeout_s,
        }


def database_gate(settings: Settings) -> AdmissionGate:
    """The gate in front of the service pool: one place per pooled connection but one.

    The one left over serves the process's own work outside requests (copying the check index into
    memory after start-up or an import; a batch's second connection, taken only if free), so that an
    admitted request never has to wait for a connection in its worker thread.
    """
    places = max(1, settings.pool_max_size - 1)
    return AdmissionGate("database", places, settings.pool_timeout_s, settings.pool_queue_limit)


def gate_of(request: Request) -> AdmissionGate:
    """The database gate of the running application."""
    gate: AdmissionGate = request.app.state.db_gate
    return gate


@asynccontextmanager
async def leased_connection(request: Request) -> AsyncIterator[Connection[TupleRow]]:
    """Admit the request, then lend it a pooled connection; commit on success, roll back on error.

    Only the admitted take a worker thread (to fetch, and later to finish and return, the connection), so
    connection holders always find a thread to run in. For routes that need a connection for part of
    their work only (sign-in: not while Argon2 runs), use this around each part instead of :data:`Conn`.
    """
    pool: ConnectionPool[Connection[TupleRow]] = request.app.state.pool
    async with gate_of(request).admitted():
        # Shielded: a request cancelled meanwhile (client gone, shutdown) must still own, and so return,
        # the connection its thread fetched; a connection lost here would shrink the pool for good.
        with anyio.CancelScope(shield=True):
            conn = await run_in_threadpool(pool.getconn)
        ok = False
        try:
            yield conn
            ok = True
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_give_back, pool, conn, ok)


def _give_back(pool: ConnectionPool[Connection[TupleRow]], conn: Connection[TupleRow], commit: bool) -> None:
    """End the connection's transaction (commit or roll back) and return it to the pool."""
    try:
        if conn.broken:
            return
        if commit:
            conn.commit()
        else:
            conn.rollback()
    finally:
        pool.putconn(conn)


async def get_conn(request: Request) -> AsyncIterator[Connection[TupleRow]]:
    """Lend a pooled connection for one request; 503 ``database_busy`` when none is free in time.

    Leaving the block commits (or rolls back on an error). The dependency is function-scoped, so that
    happens when the route returns and before the response is sent: a client told 201 can read what it
    wrote from any other connection, and a failed commit answers as an error, never as a success.
    """
    async with leased_connection(request) as conn:
        yield conn


Conn = Annotated[Connection[TupleRow], Depends(get_conn, scope="function")]


async def heavy_work(request: Request) -> AsyncIterator[None]:
    """Admission for a costly request (a layer diff, an export, a batch of checks).

    Declared in the route decorator's ``dependencies``, it is solved before the route's connection is
    taken: costly requests wait here without holding a connection, and at most ``heavy_capacity`` of the
    pool's connections are ever busy with them, so map tiles and checks keep the rest.
    """
    gate: AdmissionGate = request.app.state.heavy_gate
    async with gate.admitted():
        yield


HeavyWork = Depends(heavy_work, scope="function")


def contains_pattern(text: str) -> str:
    """An ILIKE pattern finding ``text`` anywhere, its wildcards (``%``, ``_``, ``\\``) taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
