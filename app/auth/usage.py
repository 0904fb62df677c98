"""Service accounts' usage: requests, layers and bytes per client and day, counted in memory.

A machine client may fetch thousands of tiles an hour; a database write (let alone an audit row) per
request would cost more than the tile. Each process adds to counters in memory and writes them as one
upsert per (account, day, layer) every ``usage_flush_seconds``, when the usage is read, and at shutdown;
the upserts add, so any number of worker processes share the table. What a process held when it was
killed is lost (at most one flush interval of counts): acceptable for a usage statistic, unlike an audit.

Row ``layer_code = ''`` counts every request of the day (and its response bytes); a layer's row counts
the requests that read that layer and the bytes of those responses (a composite tile's bytes count in
each of its layers' rows, and once in the day's total).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from psycopg import Connection
from starlette.concurrency import run_in_threadpool

from layers.district import DISTRICT

log = logging.getLogger(__name__)
ALL_LAYERS = ""
Key = tuple[int, date, str]


class UsageCounter:
    """Counts of the requests service accounts made, waiting to be written."""

    def __init__(self) -> None:
        self._counts: dict[Key, list[int]] = {}
        self._lock = threading.Lock()

    def add(self, account_id: int, layers: Iterable[str], response_bytes: int) -> None:
        """Count one answered request of ``account_id`` that read ``layers``."""
        day = datetime.now(DISTRICT.tz).date()
        with self._lock:
            for code in (ALL_LAYERS, *layers):
                counts = self._counts.setdefault((account_id, day, code), [0, 0])
                counts[0] += 1
                counts[1] += response_bytes

    def flush(self, conn: Connection[Any]) -> None:
        """Add the counts to ``auth.service_account_usage`` (in the caller's transaction) and reset them."""
        with self._lock:
            taken, self._counts = self._counts, {}
        if not taken:
            return
        try:
            with conn.cursor() as cur:
                cur.executemany(
                    """
                    INSERT INTO auth.service_account_usage
                      (service_account_id, day, layer_code, requests, bytes)
                    VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT (service_account_id, day, layer_code) DO UPDATE
                    SET requests = service_account_usage.requests + excluded.requests,
                        bytes = service_account_usage.bytes + excluded.bytes
                    """,
                    [(*key, n, b) for key, (n, b) in sorted(taken.items())],
                )
        except Exception:
            self._restore(taken)
            raise

    def _restore(self, taken: dict[Key, list[int]]) -> None:
        with self._lock:
            for key, (n, b) in taken.items():
                counts = self._counts.setdefault(key, [0, 0])
                counts[0] += n
                counts[1] += b

    def flush_with(self, connect: Callable[[], AbstractContextManager[Connection[Any]]]) -> None:
        """Flush on a connection of its own (the pool's ``connection``), committing it."""
        with connect() as conn:
            self.flush(conn)

    async def flush_periodically(
        self, connect: Callable[[], AbstractContextManager[Connection[Any]]], every_s: float
    ) -> None:
        """Flush every ``every_s`` seconds until cancelled; a failed flush keeps its counts for the next."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await run_in_threadpool(self.flush_with, connect)
            except Exception:
                log.exception("service account usage: flush failed; counts kept for the next flush")
