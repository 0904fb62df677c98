"""Requests made provably concurrent: both wait on a row lock held by a third connection, then race.

A barrier before two requests does not prove they overlapped inside the database: the first may commit
before the second begins, and a test of "one wins, the other is told" then passes even without any
locking in the service. Here a third connection locks the contested row, the requests are started, and
the lock is released only once the database shows every one of them waiting for a lock: each request has
then read nothing yet that the other will change, and what follows is a real race.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")

WAIT_S = 20.0


def waiting_backends(observer: psycopg.Connection[Any], holder_pid: int) -> int:
    """Backends waiting, directly or in the queue behind another waiter, for the holder's lock.

    The first request to wait is blocked by the holder; the next ones by the first (it holds the
    row's tuple lock while it waits), so the chain is followed rather than only direct waiters counted.
    """
    row = observer.execute(
        """
        WITH RECURSIVE blocked(pid) AS (
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND %(holder)s = ANY(pg_blocking_pids(pid))
          UNION
          SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY(pg_blocking_pids(a.pid))
          WHERE a.datname = current_database()
        )
        SELECT count(*) FROM blocked
        """,
        {"holder": holder_pid},
    ).fetchone()
    return int(row[0]) if row else 0


def race_on_locked_row(
    dsn: str, lock_sql: str, params: Sequence[Any], calls: Sequence[Callable[[], T]]
) -> list[T]:
    """Run ``calls`` in threads while ``lock_sql`` (a ``SELECT ... FOR UPDATE``) holds the contested
    row(s); release it once all of them wait for a lock, and return their results in order.

    The calls are started one by one, each once the previous one waits, so they queue for the row in
    the order given: PostgreSQL grants a contested row lock first come, first served, and the first call
    is the one that wins the race (so a test can state the exact outcome).

    Fails (instead of passing by luck) when the calls do not all come to wait: a call that got through
    while the row was held did not lock it.
    """
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], T]) -> None:
        try:
            results[i] = call()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as observer:
        locked = holder.execute(lock_sql, params).fetchall()
        assert locked, "the row to hold is missing"
        pid = holder.info.backend_pid
        threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
        for n, thread in enumerate(threads, start=1):
            # One at a time: each call queues behind the previous one, so they take the row in order.
            thread.start()
            deadline = time.monotonic() + WAIT_S
            while (waiting := waiting_backends(observer, pid)) < n:
                finished = [i for i, t in enumerate(threads[:n]) if not t.is_alive()]
                assert not finished and time.monotonic() < deadline, (
                    f"only {waiting} of {n} requests waited for the held row; finished early: "
                    f"{finished} {[results[i] for i in finished]} {errors}"
                )
                time.sleep(0.01)
        holder.rollback()  # release: the waiting requests now take the row, first queued first
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a request did not finish"
    return results
