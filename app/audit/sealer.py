"""The background sealer: links new audit rows into the chain every few seconds.

A thread of its own, not the event loop's: it borrows a pooled connection only for the one short call of
``audit.seal`` per round and holds none while it sleeps. Several processes may each run one; the seal's
advisory lock makes them take turns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from psycopg import Connection

from app.audit.chain import seal_all

log = logging.getLogger(__name__)


class AuditSealer:
    """Seals committed audit rows every ``interval_s`` seconds until closed."""

    def __init__(
        self, connect: Callable[[], AbstractContextManager[Connection[Any]]], interval_s: float
    ) -> None:
        self._connect = connect
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
        self.sealed_total = 0

    def start(self) -> None:
        """Begin sealing in the background (nothing when the interval is 0)."""
        if self._interval_s > 0:
            self._thread.start()

    def seal_now(self) -> int:
        """One round: seal what is committed now; the number sealed."""
        with self._connect() as conn:
            sealed = seal_all(conn)
        self.sealed_total += sealed
        return sealed

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.seal_now()
            except Exception:  # a database restart or a full pool: the next round tries again
                log.warning(
                    "audit sealer: this round failed; retrying in %.0f s", self._interval_s, exc_info=True
                )

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the current round."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
