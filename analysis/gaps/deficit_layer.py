"""The cells in deficit as base-map layers: one derived catalog layer per facility type (``gap_<code>``).

A layer version is written through the ordinary versioned store (:func:`layers.store.versions.write_version`:
one transaction, audited as ``layer.import``), so the tiles, identify and the OGC API serve it like any
other layer. A version is identified by its answer key (the facility type, the standards' fingerprint, the
method, the walking network's and every input layer's version ids): its ``source_sha256`` is the key's
digest and its note names the key and the standards version. An answer whose key is the current version's
writes nothing; an answer for new inputs writes the next version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from psycopg import Connection

from analysis.gaps.answer import GapAnswer
from analysis.standards.model import Standards
from layers.audit import Actor
from layers.catalog.model import Catalog, LayerEntry
from layers.ingest.crs import STORAGE_CRS, transformer_to_storage
from layers.ingest.prepare import FeatureBatches
from layers.store.versions import SourceMeta, write_version

DRIVER = "gap_analysis"


def layer_code(facility: str) -> str:
    """The catalog code of a facility type's deficit layer."""
    return f"gap_{facility}"


def key_digest(cache_key: str) -> str:
    """The digest a version of the deficit layer carries as its source hash: the answer key's."""
    return hashlib.sha256(cache_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Published:
    """The deficit layer's current version after a publication, and whether it was written now."""

    layer: str
    number: int
    features: int
    written: bool


class _NoFeatures(FeatureBatches):
    """An empty version (no cell in deficit): nothing to prepare, nothing to copy."""

    def __post_init__(self) -> None:
        self.bounds = (0.0, 0.0, 0.0, 0.0)
        self.report = {"feature_count": 0}

    def __iter__(self) -> Any:
        return iter(())


def current(conn: Connection[Any], code: str) -> tuple[int, str | None, int] | None:
    """(number, source digest, feature count) of the layer's current version, or None."""
    row = conn.execute(
        "SELECT v.number, v.source_sha256, v.feature_count FROM basemap.layer l"
        " JOIN basemap.layer_version v ON v.id = l.current_version WHERE l.code = %s",
        (code,),
    ).fetchone()
    return None if row is None else (int(row[0]), row[1], int(row[2]))


def is_current(conn: Connection[Any], catalog: Catalog, answer: GapAnswer) -> bool:
    """Whether the deficit layer already holds this answer (or the type has no deficit layer)."""
    code = layer_code(answer.facility)
    if code not in catalog.layers:
        return True
    found = current(conn, code)
    return found is not None and found[1] == key_digest(answer.cache_key)


def _features(
    conn: Connection[Any], entry: LayerEntry, standards: Standards, answer: GapAnswer
) -> FeatureBatches:
    population = next((s for s in answer.layers if s.layer == standards.population.layer), None)
    cells = answer.deficit_cells
    if population is None or not cells:
        empty = pa.array([], pa.large_binary())
        return _NoFeatures(empty, pd.DataFrame(), entry, transformer_to_storage(STORAGE_CRS))
    rows = conn.execute(
        "SELECT fid, ST_AsBinary(geom) FROM basemap.feature WHERE version_id = %s AND fid = ANY(%s)",
        (population.version_id, [c.fid for c in cells]),
    ).fetchall()
    geometry = {int(fid): bytes(wkb) for fid, wkb in rows}
    kept = [c for c in cells if c.fid in geometry]
    attributes = pd.DataFrame(
        {
            "facility": [answer.facility] * len(kept),
            "grid_id": [c.label for c in kept],
            "subdistrict": [c.subdistrict for c in kept],
            "population": [c.population for c in kept],
            "not_covered": [0 if c.covered else c.population for c in kept],
            "demand": [c.demand for c in kept],
            "shortfall": [c.shortfall for c in kept],
        }
    )
    return FeatureBatches(
        pa.array([geometry[c.fid] for c in kept], pa.large_binary()),
        attributes,
        entry,
        transformer_to_storage(STORAGE_CRS),
        source_fids=pa.array([str(c.fid).encode() for c in kept], pa.large_binary()),
    )


def publish(
    conn: Connection[Any], catalog: Catalog, standards: Standards, answer: GapAnswer, actor: Actor
) -> Published | None:
    """Write the answer's cells in deficit as the next version of the facility type's deficit layer, unless
    the current version already holds this answer (None when the type has no deficit layer).

    Two publishers of the same type take turns (a transaction-level advisory lock); the second finds the
    first one's version and writes nothing.
    """
    code = layer_code(answer.facility)
    entry = catalog.layers.get(code)
    if entry is None:
        return None
    digest = key_digest(answer.cache_key)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"duogui.gap.deficit.{code}",))
        found = current(conn, code)
        if found is not None and found[1] == digest:
            return Published(code, found[0], found[2], written=False)
        features = _features(conn, entry, standards, answer)
        note = (
            f"设施缺口分析（{answer.standard.name_zh}）自动生成；配置标准 {answer.standard.standards_version}"
            f"（{answer.standard.standards_fingerprint[:12]}）；答案键 {answer.cache_key}"
        )
        meta = SourceMeta(
            name=f"gap-analysis:{answer.facility}",
            sha256=digest,
            size=len(answer.deficit_cells),
            driver=DRIVER,
            crs=STORAGE_CRS.to_string(),
            note=note[:2000],
        )
        info = write_version(conn, entry, features, meta, actor)
    return Published(code, info.number, info.feature_count, written=True)
