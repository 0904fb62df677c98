"""A bounded in-process cache of encoded tiles, keyed by the layer versions they were made from.

Because the key holds each layer's version id, a new (or rolled back) version never meets a stale entry:
its tiles simply have other keys, and old entries age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class TileCache:
    """Least-recently-used bytes cache with a total size budget."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        """The cached value, refreshed as most recently used, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Store a value, evicting the least recently used ones beyond the budget."""
        if len(value) > self.max_bytes:  # also: a budget of 0 disables caching
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def clear(self) -> None:
        """Drop everything (used by benchmarks for cold-cache figures)."""
        with self._lock:
            self._items.clear()
            self._size = 0

    @property
    def size(self) -> int:
        """Bytes currently held."""
        return self._size
