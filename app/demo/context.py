"""What every part of the demo history shares: the connection, the clock, the people, the dice."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from psycopg import Connection

from app.demo.actors import People
from app.demo.clock import Clock
from layers.catalog.model import Catalog

Scale = Literal["small", "district", "full"]
# The history runs from the first working day of 2024 to the day it is generated.
HISTORY_START = date(2024, 1, 2)


@dataclass
class HistoryContext:
    """One run of the history generator."""

    conn: Connection[Any]  # the owner connection, autocommit off; each clock day is one transaction
    catalog: Catalog
    clock: Clock
    people: People
    seed: int  # same seed, same history
    scale: Scale
    today: date  # the last simulated day (the generation day in the district)
    start: date = HISTORY_START

    def sub_rng(self, name: str) -> random.Random:
        """An independent, named stream (a part's draws do not shift when another part changes)."""
        return random.Random(f"{self.seed}:{name}")
