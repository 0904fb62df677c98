"""Recompute the gap answers of every facility type (or one) and publish their deficit layers.

Used by ``duogui gaps refresh``: after a batch of imports, one command brings the stored answers and the
deficit layers up to date. An answer whose inputs did not change gets the same key, so its deficit layer
keeps its version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from analysis.gaps import deficit_layer, store
from analysis.gaps.answer import build_answer
from analysis.gaps.inputs import gather
from analysis.standards.model import FacilityStandard, Standards
from layers.audit import Actor
from layers.catalog.model import Catalog


@dataclass(frozen=True)
class Refreshed:
    """One facility type's recomputed answer and its deficit layer's version."""

    facility: str
    cache_key: str
    deficit_cells: int
    shortfall: float
    compute_ms: int
    published: deficit_layer.Published | None


def refresh_one(
    conn: Connection[Any], catalog: Catalog, standards: Standards, standard: FacilityStandard, actor: Actor
) -> Refreshed:
    """Compute the answer anew, store it and publish its deficit layer (a new version for new inputs)."""
    started = time.monotonic()
    answer = build_answer(gather(conn, standards, standard))
    answer.compute_ms = round((time.monotonic() - started) * 1000)
    store.save(conn, answer, answer.model_dump_json())
    published = deficit_layer.publish(conn, catalog, standards, answer, actor)
    return Refreshed(
        standard.code,
        answer.cache_key,
        len(answer.deficit_cells),
        answer.district.shortfall,
        answer.compute_ms,
        published,
    )


def refresh(
    conn: Connection[Any],
    catalog: Catalog,
    standards: Standards,
    facilities: list[FacilityStandard],
    actor: Actor,
) -> list[Refreshed]:
    """:func:`refresh_one` for each of ``facilities``, in order."""
    return [refresh_one(conn, catalog, standards, standard, actor) for standard in facilities]
