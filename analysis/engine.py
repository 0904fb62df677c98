"""The pre-evaluation engine: a footprint against every pre-evaluation layer, graded by the rule set.

Framework-agnostic: it takes a connection, a checked footprint and a project type, and returns a typed
report (the API, the CLI and batch jobs share it). This slice covers overlap and setback rules, sliver
tolerance, not-checkable layers and the verdict; compatibility, demolition and terrain come next.
"""

from __future__ import annotations

import json
import math
import operator
import select
import string
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import psycopg
import shapely
from psycopg import Connection, pq, sql
from pydantic import BaseModel, TypeAdapter

from analysis.checkindex import GEOMETRIC, CheckedLayer, PerRules, checked_layers, per_rules
from analysis.compensation import Compensation, estimate_compensation
from analysis.findings import FeatureHit, Finding
from analysis.footprint import Footprint
from analysis.resident import ResidentIndex
from analysis.rules_model import Grade, OutcomeCache, Rule, RuleKind, RuleOutcome, RuleSet
from analysis.snapshot import Snapshot
from analysis.terrain import slope_stats
from layers.catalog.model import Catalog, LayerEntry, LayerKind
from layers.district import STORAGE_SRID

VERDICT_ZH = {Grade.PROHIBITED: "不通过", Grade.CONDITIONAL: "有条件通过", None: "通过"}
VERDICT_EN = {Grade.PROHIBITED: "rejected", Grade.CONDITIONAL: "conditionally approved", None: "approved"}


class NotCheckable(BaseModel):
    """A layer that cannot answer for this footprint: no data is never reported as no conflict."""

    layer: str
    layer_name_zh: str
    reason_zh: str
    reason_en: str


class Terrain(BaseModel):
    """Slope over the footprint, from the slope raster."""

    mean_slope_deg: float
    steep_share_pct: float
    steep_area_m2: float


class Demolition(BaseModel):
    """What the footprint implies for demolition (征拆): it seeds the demolition ledger."""

    buildings: int
    floor_area_m2: float
    households: int
    collective_land_m2: float
    state_land_m2: float
    compensation: Compensation | None = None


class Buildable(BaseModel):
    """The footprint minus every prohibited overlap."""

    area_m2: float
    share_pct: float
    geometry_wkt: str


class Report(BaseModel):
    """The pre-evaluation report."""

    verdict: str
    verdict_en: str
    project_type: str
    flags: list[str] = []
    footprint_area_m2: float
    findings: list[Finding]
    not_checkable: list[NotCheckable]
    layer_versions: dict[str, int]
    rules_version: str
    repairs: list[str]
    terrain: Terrain | None
    demolition: Demolition
    buildable: Buildable


class _Formatter(string.Formatter):
    """Message templates: unknown placeholders stay visible instead of failing."""

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMAT = _Formatter()


class _Visible(dict[str, Any]):
    """Values for a message template: an unknown placeholder stays visible as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _message(template: str, values: dict[str, Any]) -> str:
    """Fill a message template; the fast C path first, the tolerant formatter for odd values."""
    try:
        return template.format_map(_Visible(values))
    except (ValueError, TypeError, IndexError, AttributeError, KeyError):
        return _FORMAT.format(template, **values)


def _code_labels(entry: LayerEntry, english: bool = False) -> list[tuple[str, dict[str, str]]]:
    """The layer's coded attributes with the Chinese (or English) label of each code value."""
    coded = [
        (attr.name, {c.value: c.label_en if english else c.label_zh for c in attr.codes or []})
        for attr in entry.attributes
    ]
    return [(name, labels) for name, labels in coded if labels]


def _labelled(code_labels: list[tuple[str, dict[str, str]]], props: dict[str, Any]) -> dict[str, Any]:
    """Attribute values with code values replaced by their labels (for messages)."""
    out = dict(props)
    for name, labels in code_labels:
        if name in out and str(out[name]) in labels:
            out[name] = labels[str(out[name])]
    return out


def _candidates_sql(indexed: list[CheckedLayer], fallback: list[tuple[CheckedLayer, int]]) -> sql.Composed:
    """One statement: every feature part whose box comes within its layer's reach of the footprint's box.

    Layers the check index holds at their current version are one probe of ``basemap.check_part``;
    the others (just switched, not yet caught up) are read from their version tables. Each row:
    layer code, fid, attributes and the whole part (WKB). The exact tests and the clipping are done
    by :func:`_measure`, once per part, on geometries decoded once (a server-side overlay converted
    each part to GEOS again for every function it went through).
    """
    box = sql.SQL("ST_MakeEnvelope(%(x0)s - {r}, %(y0)s - {r}, %(x1)s + {r}, %(y1)s + {r}, {srid})")
    srid = sql.Literal(STORAGE_SRID)
    statements = []
    if indexed:
        statements.append(
            sql.SQL(
                # One index probe with the largest reach; the per-layer reach is applied to what it
                # found (materialised, so the planner cannot turn it back into one probe per layer).
                "(WITH c AS MATERIALIZED (SELECT layer_code, fid, props, geom FROM basemap.check_part "
                "WHERE geom && {widest}) "
                "SELECT c.layer_code, c.fid, c.props, ST_AsBinary(c.geom) FROM c "
                "JOIN unnest({codes}::text[], {reaches}::float8[]) r(code, reach) ON r.code = c.layer_code "
                "WHERE c.geom && {own})"
            ).format(
                widest=box.format(r=sql.Literal(max(_reach(layer) for layer in indexed)), srid=srid),
                own=box.format(r=sql.SQL("r.reach"), srid=srid),
                codes=sql.Literal([layer.entry.code for layer in indexed]),
                reaches=sql.Literal([_reach(layer) for layer in indexed]),
            )
        )
    for layer, version in fallback:
        statements.append(
            sql.SQL(
                "(SELECT {code}::text, t.fid, t.props, ST_AsBinary(t.geom) "
                "FROM (SELECT fid, props, geom FROM {f} WHERE vertices <= 256 UNION ALL "
                "SELECT p.fid, f.props, p.geom FROM {p} p JOIN {f} f USING (fid)) t WHERE t.geom && {box})"
            ).format(
                code=sql.Literal(layer.entry.code),
                f=sql.Identifier("basemap", f"f_{version}"),
                p=sql.Identifier("basemap", f"p_{version}"),
                box=box.format(r=sql.Literal(_reach(layer)), srid=srid),
            )
        )
    if indexed:
        # The versions the index held when it was read, in the same snapshot as the parts: a catch-up
        # between the state query and this one would otherwise mix versions (see :func:`evaluate`).
        statements.append(
            sql.SQL(
                "(SELECT NULL, NULL, (SELECT jsonb_object_agg(layer_code, version_id) "
                "FROM basemap.check_state WHERE layer_code = ANY({codes})), NULL)"
            ).format(codes=sql.Literal([layer.entry.code for layer in indexed]))
        )
    return sql.SQL(" UNION ALL ").join(statements)


def _reach(layer: CheckedLayer) -> float:
    """How far from the footprint a part of the layer can matter: its widest rule, plus the tolerance
    with which a setback at exactly its distance counts."""
    return layer.reach_m + SETBACK_TOLERANCE_M if layer.reach_m > 0 else 0.0


def _measure(
    fp: shapely.Geometry, parts: Any, reaches: Any, areas: Any
) -> tuple[Any, list[shapely.Geometry | None], Any]:
    """Which parts are within reach of the footprint, their overlaps with it and their distances.

    ``parts`` holds whole parts; ``reaches`` each part's layer reach and ``areas`` whether its layer
    is an area layer. Returns the mask of parts within reach, each part's overlap (area layers and
    parts meeting the footprint only; a part the footprint covers is itself, so only parts across its
    edge pay for an overlay) and each part's distance (0 where it meets the footprint). The footprint
    is prepared once, so every predicate below tests against its index.
    """
    shapely.prepare(fp)
    meets = shapely.intersects(fp, parts)
    distance = np.zeros(len(parts))
    near = ~meets & (reaches > 0)
    if near.any():
        distance[near] = shapely.distance(fp, parts[near])
    keep = meets | (near & (distance <= reaches))
    clipped = meets & areas
    inside = np.zeros(len(parts), dtype=bool)
    inside[clipped] = shapely.covers(fp, parts[clipped])
    across = clipped & ~inside
    overlaps = np.full(len(parts), None, dtype=object)
    overlaps[inside] = parts[inside]
    if across.any():
        overlaps[across] = _overlay(parts[across], fp)
    return keep, overlaps.tolist(), distance


# The overlay of the parts across the footprint's edge is most of a check's geometry work. shapely
# releases the interpreter lock while GEOS runs, so a second thread halves it on an idle machine. The
# helper takes half of a check's overlay only when it is free: under load a check never waits for
# another check's half, it does its own overlay whole.
OVERLAY_SPLIT_MIN = 16  # fewer parts: the hand-over (~50 µs) costs more than it saves
_overlay_helper: ThreadPoolExecutor | None = None
_overlay_free = threading.Semaphore(1)


def _overlay(parts: Any, fp: shapely.Geometry) -> Any:
    """``shapely.intersection(parts, fp)``, half of it on the helper thread when that one is free."""
    global _overlay_helper
    if len(parts) < OVERLAY_SPLIT_MIN or not _overlay_free.acquire(blocking=False):
        return shapely.intersection(parts, fp)
    try:
        if _overlay_helper is None:
            _overlay_helper = ThreadPoolExecutor(1, thread_name_prefix="preeval-overlay")
        half = len(parts) // 2
        other = _overlay_helper.submit(shapely.intersection, parts[half:].copy(), fp)
        mine = shapely.intersection(parts[:half].copy(), fp)
        return np.concatenate([mine, other.result()])
    finally:
        _overlay_free.release()


@dataclass
class _Candidate:
    """A feature near the footprint, gathered from its parts."""

    props: dict[str, Any]
    pieces: list[shapely.Geometry] = field(default_factory=list)
    distance: float = math.inf

    def overlap(self) -> shapely.Geometry:
        if len(self.pieces) == 1:
            return self.pieces[0]
        # Parts arrive in whatever order the index returns them; the union is taken in a fixed order
        # so that the same parts always give the same bits.
        return shapely.union_all(sorted(self.pieces, key=lambda g: (*g.bounds, g.area, g.wkb)))


@dataclass(frozen=True)
class _LayerPlan:
    """What the engine needs of one checked layer that does not change between checks."""

    layer: CheckedLayer
    # The layer's overlap and setback rules in file order, each with its reach (None: must overlap).
    tests: list[tuple[Rule, float | None]]
    max_age_days: int
    code_labels: list[tuple[str, dict[str, str]]]
    code_labels_en: list[tuple[str, dict[str, str]]]
    # (reach of its parts, area layer): what :func:`_measure` needs of each part of the layer.
    measure: tuple[float, bool]


_PLANS: PerRules[list[_LayerPlan]] = {}


def _layer_plans(catalog: Catalog, ruleset: RuleSet) -> list[_LayerPlan]:
    """The checked layers with their rules and age limit (cached per catalog and rule set)."""

    def build() -> list[_LayerPlan]:
        plans = []
        for layer in checked_layers(catalog, ruleset):
            rules = ruleset.rules_for_layer(layer.entry.code)
            tests: list[tuple[Rule, float | None]] = []
            for rule in rules:
                if rule.kind in _AREA_KINDS:
                    tests.append((rule, None))
                elif rule.kind is RuleKind.SETBACK and rule.distance_m is not None:
                    tests.append((rule, rule.distance_m + SETBACK_TOLERANCE_M))
            ages = [r.max_age_days for r in rules if r.kind in GEOMETRIC and r.max_age_days]
            max_age = min(ages + [layer.entry.max_age_days or 10**9])
            measure = (_reach(layer), layer.entry.kind is LayerKind.AREA)
            labels = (_code_labels(layer.entry), _code_labels(layer.entry, english=True))
            plans.append(_LayerPlan(layer, tests, max_age, *labels, measure))
        return plans

    return per_rules(_PLANS, catalog, ruleset, build)


_QUERIES: dict[tuple[Any, ...], tuple[list[CheckedLayer], list[tuple[CheckedLayer, int]], bytes]] = {}


def _candidates_query(
    conn: Connection[Any], indexed: list[CheckedLayer], fallback: list[tuple[CheckedLayer, int]]
) -> bytes:
    """:func:`_candidates_sql` rendered once per set of layers (it is the same text check after check)."""
    # The layers are the cached objects of checked_layers; they are kept in the entry, so an id
    # cannot be reused by another layer while the entry exists.
    key = (*map(id, indexed), None, *[(id(layer), version) for layer, version in fallback])
    cached = _QUERIES.get(key)
    if cached is not None and all(map(operator.is_, cached[0], indexed)):
        if all(a is b for (a, _), (b, _) in zip(cached[1], fallback, strict=True)):
            return cached[2]
    if len(_QUERIES) > 64:
        _QUERIES.clear()
    query = _candidates_sql(indexed, fallback).as_bytes(conn)
    _QUERIES[key] = (list(indexed), list(fallback), query)
    return query


def evaluate(
    conn: Connection[Any],
    footprint: Footprint,
    project_type: str,
    *,
    catalog: Catalog,
    ruleset: RuleSet,
    flags: Collection[str] = (),
    today: date | None = None,
    data_dir: Path | None = None,
    resident: ResidentIndex | None = None,
) -> Report:
    """Check ``footprint`` against every pre-evaluation layer and grade what the rules say.

    With a ``resident`` copy of the check index, the layers it holds at their current versions are
    searched in memory and only the others are read from the database. The current versions are then
    asked for first, and while the answer is on its way the check runs on the versions the previous
    check met: when they are still current (nearly always) that is the report; otherwise it is done
    again on the current ones. Either way the report is the one of the current versions.
    """
    args = (footprint, project_type, catalog, ruleset, flags, today or date.today(), data_dir, resident)
    if resident is None:
        return _evaluate(conn, _States(conn.execute(_STATE_SQL).fetchall()), *args)
    last = resident.last_states
    # Running ahead pays only when the layers are in memory (else the database is needed anyway).
    asked = _CurrentVersions.ask(conn) if last is not None and resident.snapshot is not None else None
    if asked is None or last is None:
        row = conn.execute(_CURRENT_SQL).fetchone()
        current = row[0] if row and row[0] else ""
    else:
        report = None
        try:
            # Anything that needs the database (a layer not held in memory, a version not seen yet)
            # gives up here and waits for the answer below.
            report = _evaluate(_NO_DATABASE, last, *args)
        except _NeedsDatabase:
            pass
        finally:
            current = asked.answer()
        if report is not None and current == last.current:
            return report
    states = _resident_states(conn, resident, current)
    resident.last_states = states
    return _evaluate(conn, states, *args)


def _evaluate(
    conn: Connection[Any],
    states: _States,
    footprint: Footprint,
    project_type: str,
    catalog: Catalog,
    ruleset: RuleSet,
    flags: Collection[str],
    today: date,
    data_dir: Path | None,
    resident: ResidentIndex | None,
) -> Report:
    """The check on the layer ``states``."""
    fp = footprint.geometry
    state = states.by_layer
    not_checkable: list[NotCheckable] = []
    indexed: list[CheckedLayer] = []
    fallback: list[tuple[CheckedLayer, int]] = []
    plans: dict[str, _LayerPlan] = {}
    held: dict[str, float] = {}
    snapshot = resident.snapshot if resident is not None else None
    bounds = fp.bounds
    for plan in _layer_plans(catalog, ruleset):
        layer = plan.layer
        entry = layer.entry
        current = state.get(entry.code)
        reason = _unavailable(entry, current, fp, bounds, plan.max_age_days, today, layer.reach_m)
        if reason or current is None:
            not_checkable.append(
                NotCheckable(
                    layer=entry.code,
                    layer_name_zh=entry.name_zh,
                    reason_zh=reason[0] if reason else "",
                    reason_en=reason[1] if reason else "",
                )
            )
            continue
        plans[entry.code] = plan
        if snapshot is not None and snapshot.versions.get(entry.code) == current[0]:
            held[entry.code] = plan.measure[0]
        elif current[3]:
            indexed.append(layer)
        else:
            fallback.append((layer, current[0]))
    if resident is not None and (indexed or fallback):
        resident.request_refresh()
    candidates = _gather(conn, fp, plans, indexed, fallback, state, snapshot, held)
    findings: dict[str, Finding] = {}
    prohibited: list[shapely.Geometry] = []
    _grade(findings, sorted(candidates.items()), plans, ruleset, project_type, frozenset(flags), prohibited)
    for finding in findings.values():
        if finding.overlap_m2 is not None:
            finding.share_pct = round(100 * finding.overlap_m2 / footprint.area_m2, 4)
            finding.overlap_m2 = float(finding.overlap_m2)
    terrain = _terrain(
        states.rasters, footprint, project_type, catalog, ruleset, flags, data_dir, findings, not_checkable
    )
    ordered = sorted(findings.values(), key=lambda f: (_SEVERITY[f.grade], f.layer, f.rule_id))
    worst = next(
        (g for g in (Grade.PROHIBITED, Grade.CONDITIONAL) if any(f.grade is g for f in ordered)), None
    )
    return Report(
        verdict=VERDICT_ZH[worst],
        verdict_en=VERDICT_EN[worst],
        project_type=project_type,
        flags=sorted(flags),
        footprint_area_m2=round(footprint.area_m2, 3),
        findings=ordered,
        not_checkable=not_checkable,
        layer_versions=dict(states.numbers),
        rules_version=ruleset.version,
        repairs=footprint.repairs,
        terrain=terrain,
        demolition=_demolition(findings).model_copy(
            update={"compensation": estimate_compensation(conn, findings, ruleset, states.ids, snapshot)}
        ),
        buildable=_buildable(fp, prohibited),
    )


def _gather(
    conn: Connection[Any],
    fp: shapely.Geometry,
    plans: dict[str, _LayerPlan],
    indexed: list[CheckedLayer],
    fallback: list[tuple[CheckedLayer, int]],
    state: dict[str, Any],
    snapshot: Snapshot | None,
    held: dict[str, float],
) -> dict[tuple[str, int], _Candidate]:
    """The features within reach of the footprint, with their overlaps and distances.

    Parts come from memory (``held`` layers of ``snapshot``) and from the database (the others); both
    go through the same :func:`_measure`, so the path does not change the answer.
    """
    found = _candidates_found(conn, fp, indexed, fallback, state) if indexed or fallback else []
    codes = [row[0] for row in found]
    fids = [row[1] for row in found]
    attributes: list[Any] = [row[2] for row in found]
    parts = [shapely.from_wkb([row[3] for row in found])]
    measures = [plans[code].measure for code in codes]
    reaches = [np.fromiter((m[0] for m in measures), dtype=float, count=len(codes))]
    areas = [np.fromiter((m[1] for m in measures), dtype=bool, count=len(codes))]
    if snapshot is not None and held:
        at = snapshot.near(fp.bounds, held)
        layer_of = snapshot.layer_of[at]
        layers = snapshot.layers
        codes += [layers[i] for i in layer_of.tolist()]
        fids += snapshot.fids[at].tolist()
        attributes += snapshot.props[at].tolist()  # JSON text: decoded below for the parts kept
        parts.append(snapshot.parts[at])
        # Per snapshot layer: its reach and whether it is an area layer (layers not held never occur).
        by_layer = [plans[code].measure if code in held else (0.0, False) for code in layers]
        reaches.append(np.array([m[0] for m in by_layer], dtype=float)[layer_of])
        areas.append(np.array([m[1] for m in by_layer], dtype=bool)[layer_of])
    candidates: dict[tuple[str, int], _Candidate] = {}
    if not codes:
        return candidates
    keep, overlaps, distances = _measure(
        fp, np.concatenate(parts), np.concatenate(reaches), np.concatenate(areas)
    )
    distance_of = distances.tolist()
    for i in np.flatnonzero(keep).tolist():
        code, fid, props, piece, distance = codes[i], fids[i], attributes[i], overlaps[i], distance_of[i]
        candidate = candidates.get((code, fid))
        if candidate is None:
            if isinstance(props, str):
                props = json.loads(props)
            candidate = candidates[(code, fid)] = _Candidate(props or {})
        if piece is not None:
            candidate.pieces.append(piece)
        candidate.distance = min(candidate.distance, distance)
    return candidates


def _candidates_found(
    conn: Connection[Any],
    fp: shapely.Geometry,
    indexed: list[CheckedLayer],
    fallback: list[tuple[CheckedLayer, int]],
    state: dict[str, Any],
) -> list[Any]:
    """The candidate rows, all read from the versions the report records (``state``).

    The index may have caught up with a newer version after the state was read; such layers are read
    again from their recorded version's tables, so the report never mixes versions.
    """
    x0, y0, x1, y1 = fp.bounds
    box = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
    found = conn.execute(_candidates_query(conn, indexed, fallback), box, binary=True).fetchall()
    held = next((row[2] for row in found if row[0] is None), None) or {}
    rows = [row for row in found if row[0] is not None]
    moved = [layer for layer in indexed if held.get(layer.entry.code) != state[layer.entry.code][0]]
    if not moved:
        return rows
    codes = {layer.entry.code for layer in moved}
    again = [(layer, state[layer.entry.code][0]) for layer in moved]
    rows = [row for row in rows if row[0] not in codes]
    rows += conn.execute(_candidates_query(conn, [], again), box, binary=True).fetchall()
    return rows


class _States:
    """The layer states a check runs on, from rows of ``_STATE_SQL``: per layer with a current version,
    its code, version id, number, extent (four values), whether the check index holds it, raster path.
    Read-only once made (checks on several threads share the last one)."""

    __slots__ = ("by_layer", "current", "ids", "numbers", "rasters")

    def __init__(self, rows: list[tuple[Any, ...]], current: str = "") -> None:
        # The text of ``_CURRENT_SQL`` these states were read for ("" when read by ``_STATE_SQL``).
        self.current = current
        self.by_layer: dict[str, tuple[int, int, tuple[float, float, float, float] | None, bool | None]] = {
            code: (version, number, (x0, y0, x1, y1) if x0 is not None else None, indexed)
            for code, version, number, x0, y0, x1, y1, indexed, _ in rows
        }
        self.rasters: dict[str, str] = {row[0]: row[8] for row in rows if row[8]}
        self.numbers = {code: values[1] for code, values in self.by_layer.items()}
        self.ids = {code: values[0] for code, values in self.by_layer.items()}


def _resident_states(conn: Connection[Any], resident: ResidentIndex, current: str) -> _States:
    """The layer states of ``current`` (the text of ``_CURRENT_SQL``). A version's number, extent and
    raster never change once it is current, so only the current version ids are read per check; the
    rest comes from the index's cache of version details."""
    layers = []
    for item in current.split(",") if current else []:
        code, version, indexed = item.split(" ")
        layers.append((code, int(version), {"t": True, "f": False}.get(indexed)))
    details = resident.version_details(conn, [version for _, version, _ in layers])
    rows = [
        (code, version, *details[version][:5], indexed, details[version][5])
        for code, version, indexed in layers
    ]
    return _States(rows, current)


# Per layer with data, in code order: its code, current version id and whether the check index holds
# that version (t, f, or n without an index row), as one text a check compares with the last one.
# Layer codes are identifiers ([a-z0-9_]), so spaces and commas separate safely.
_CURRENT_SQL = (
    "SELECT string_agg(l.code || ' ' || l.current_version || ' ' ||"
    " CASE WHEN s.version_id IS NULL THEN 'n' WHEN s.version_id = l.current_version THEN 't' ELSE 'f' END,"
    " ',' ORDER BY l.code) FROM basemap.layer l"
    " LEFT JOIN basemap.check_state s ON s.layer_code = l.code WHERE l.current_version IS NOT NULL"
)


class _NeedsDatabase(Exception):
    """A check run ahead of its layer states met something only the database can answer."""


class _NoDatabase:
    """Stands for the connection while the layer states are on their way: any use of it gives up."""

    def __getattr__(self, name: str) -> Any:
        raise _NeedsDatabase(name)


_NO_DATABASE = cast(Connection[Any], _NoDatabase())


class _CurrentVersions:
    """``_CURRENT_SQL`` sent on the connection without waiting for its answer (libpq's asynchronous
    calls, under psycopg): the check goes on meanwhile, and :meth:`answer` waits for the rows."""

    def __init__(self, pgconn: Any) -> None:
        self._pgconn = pgconn

    @classmethod
    def ask(cls, conn: Connection[Any]) -> _CurrentVersions | None:
        """Send the query; None when the connection is not idle (then the caller asks the usual way)."""
        pgconn = conn.pgconn
        if (
            conn.closed
            or pgconn.pipeline_status != pq.PipelineStatus.OFF
            or pgconn.transaction_status not in (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)
        ):
            return None
        pgconn.send_query(_CURRENT_SQL.encode())
        while pgconn.flush():  # a non-blocking connection may take the query in more than one go
            select.select([], [pgconn.socket], [])
        return cls(pgconn)

    def answer(self) -> str:
        """The text of ``_CURRENT_SQL``; a database error is raised as psycopg's."""
        pgconn = self._pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        (result,) = results
        if result.status != pq.ExecStatus.TUPLES_OK:
            sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
            try:
                error = psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
            except KeyError:
                error = psycopg.DatabaseError
            raise error(result.error_message.decode(errors="replace"))
        value = result.get_value(0, 0) if result.ntuples else None
        return value.decode() if value else ""


_STATE_SQL = (
    "SELECT l.code, v.id, v.number, ST_XMin(v.extent), ST_YMin(v.extent), ST_XMax(v.extent),"
    " ST_YMax(v.extent), s.version_id = v.id, v.raster_path"
    " FROM basemap.layer l JOIN basemap.layer_version v ON v.id = l.current_version"
    " LEFT JOIN basemap.check_state s ON s.layer_code = l.code ORDER BY l.code"
)


def _grade(
    findings: dict[str, Finding],
    candidates: list[tuple[tuple[str, int], _Candidate]],
    plans: dict[str, _LayerPlan],
    ruleset: RuleSet,
    project_type: str,
    flags: frozenset[str],
    prohibited: list[shapely.Geometry],
) -> None:
    """Measure every candidate's overlap (areas and lengths in one vectorised call) and apply its rules."""
    overlaps: list[shapely.Geometry | None] = [
        candidate.overlap() if plans[code].layer.entry.kind is LayerKind.AREA else None
        for (code, _), candidate in candidates
    ]
    areas = shapely.area(overlaps).tolist()
    lengths = shapely.length(overlaps).tolist()
    empty = shapely.is_empty(overlaps).tolist()
    min_area, min_width = ruleset.settings.sliver_area_m2, ruleset.settings.sliver_width_m
    outcomes = ruleset.outcomes()
    tallies: dict[str, _Tally] = {}
    for index, ((code, fid), candidate) in enumerate(candidates):
        geometry = overlaps[index]
        overlap = None
        if geometry is not None:
            area, length = areas[index], lengths[index]
            # Slivers: below the area tolerance, or thinner than the width one (width ≈ 2 × area / perimeter).
            sliver = area < min_area or (length > 0 and 2 * area / length < min_width)
            overlap = _Overlap(geometry, area, not (empty[index] or sliver))
        plan = plans[code]
        _apply_rules(
            findings, tallies, plan, outcomes, project_type, flags, fid, candidate, overlap, prohibited
        )
    for rule_id, tally in tallies.items():
        finding = findings[rule_id]
        finding.features = _HITS.validate_python(tally.hits)
        finding.overlap_m2 = tally.overlap
        finding.distance_m = tally.distance


@dataclass
class _Tally:
    """A rule's hits while grading, kept out of the pydantic models until the end (a dense block
    has thousands, and every assignment to a model field is validated)."""

    hits: list[dict[str, Any]]
    overlap: float | None
    distance: float


_HITS = TypeAdapter(list[FeatureHit])


@dataclass(frozen=True)
class _Overlap:
    """A feature's overlap with the footprint, its area, and whether it counts (not empty, no sliver)."""

    geometry: shapely.Geometry
    area: float
    counts: bool


# "At exactly the distance" counts; a millimetre absorbs the rounding of coordinates sent in lon/lat.
SETBACK_TOLERANCE_M = 0.001

_AREA_KINDS = (RuleKind.OVERLAP, RuleKind.COMPATIBILITY, RuleKind.DEMOLITION)

_SEVERITY = {Grade.PROHIBITED: 0, Grade.CONDITIONAL: 1, Grade.ADVISORY: 2, Grade.INFO: 3}


def _new_finding(
    rule: Rule,
    entry: LayerEntry,
    outcome: RuleOutcome,
    values: dict[str, Any],
    *,
    values_en: dict[str, Any] | None = None,
    overlap_m2: float | None = None,
    share_pct: float | None = None,
    distance_m: float | None = None,
) -> Finding:
    """A finding for a rule that fired, with its messages filled from ``values`` (the English one from
    ``values_en`` when given: coded attributes carry their English labels there)."""
    return Finding(
        rule_id=rule.id,
        layer=entry.code,
        layer_name_zh=entry.name_zh,
        grade=outcome.grade,
        overlap_m2=overlap_m2,
        share_pct=share_pct,
        distance_m=distance_m,
        message_zh=_message(rule.message_zh, values),
        message_en=_message(rule.message_en, values if values_en is None else values_en),
        legal_basis=list(rule.legal_basis),
        department=outcome.department,
        approval_item=outcome.approval_item.name_zh if outcome.approval_item else None,
        features=[],
    )


_TERRAIN_RULES: PerRules[list[Rule]] = {}


def _terrain(
    rasters: dict[str, str],
    footprint: Footprint,
    project_type: str,
    catalog: Catalog,
    ruleset: RuleSet,
    flags: Collection[str],
    data_dir: Path | None,
    findings: dict[str, Finding],
    not_checkable: list[NotCheckable],
) -> Terrain | None:
    """Slope statistics and the terrain rules they fire; the slope layer is not checkable without a raster."""
    rules = per_rules(
        _TERRAIN_RULES,
        catalog,
        ruleset,
        lambda: [r for r in ruleset.rules.values() if r.kind is RuleKind.TERRAIN],
    )
    if not rules:
        return None
    entry = catalog.layers.get(rules[0].layer)
    if entry is None:
        return None
    path = rasters.get(entry.code)
    stats = None
    if path and data_dir is not None:
        stats = slope_stats(data_dir / path, footprint.geometry, rules[0].slope_deg or 25.0)
    if stats is None:
        not_checkable.append(
            NotCheckable(
                layer=entry.code,
                layer_name_zh=entry.name_zh,
                reason_zh="坡度数据未覆盖用地范围",
                reason_en="no slope data over the footprint",
            )
        )
        return None
    share_pct = 100 * stats.steep_share
    for rule in rules:
        outcome = ruleset.evaluate(rule, project_type, {}, flags)
        if outcome is None or stats.steep_area_m2 <= 0 or stats.steep_share < (rule.min_share or 0):
            continue
        values = {"share_pct": share_pct, "area_m2": stats.steep_area_m2}
        findings[rule.id] = _new_finding(
            rule, entry, outcome, values, overlap_m2=stats.steep_area_m2, share_pct=round(share_pct, 4)
        )
    return Terrain(
        mean_slope_deg=round(stats.mean_deg, 3),
        steep_share_pct=round(share_pct, 4),
        steep_area_m2=round(stats.steep_area_m2, 3),
    )


def _demolition(findings: dict[str, Finding]) -> Demolition:
    """Buildings, floor area, households and land ownership from the demolition findings."""

    def number(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return 0.0

    buildings = findings.get("cur_building.demolition")
    hits = buildings.features if buildings else []
    collective = findings.get("cur_ownership.collective")
    state = findings.get("cur_ownership.state")
    return Demolition(
        buildings=len(hits),
        floor_area_m2=round(sum(number(h.attributes.get("floor_area")) for h in hits), 2),
        households=int(sum(number(h.attributes.get("households")) for h in hits)),
        collective_land_m2=round((collective.overlap_m2 or 0.0) if collective else 0.0, 3),
        state_land_m2=round((state.overlap_m2 or 0.0) if state else 0.0, 3),
    )


def _buildable(fp: shapely.Geometry, prohibited: list[shapely.Geometry]) -> Buildable:
    """The part of the footprint no prohibited rule covers."""
    remainder = shapely.difference(fp, shapely.union_all(prohibited)) if prohibited else fp
    return Buildable(
        area_m2=round(float(remainder.area), 3),
        share_pct=round(100 * float(remainder.area) / float(fp.area), 4),
        geometry_wkt=shapely.to_wkt(remainder, rounding_precision=3),
    )


def _unavailable(
    entry: LayerEntry,
    state: tuple[int, int, tuple[float, float, float, float] | None, bool | None] | None,
    fp: shapely.Geometry,
    bounds: tuple[float, float, float, float],
    max_age: int,
    today: date,
    reach: float,
) -> tuple[str, str] | None:
    """Why a layer cannot answer for this footprint (of these bounds), or None when it can."""
    if state is None:
        return "图层无数据", "the layer has no data"
    if (today - entry.vintage).days > max_age:
        return f"图层现势性过期（{entry.vintage}）", f"the layer is out of date ({entry.vintage})"
    extent = state[2]
    # A layer whose data lies nowhere near the footprint cannot say "no conflict" about it.
    if extent is None:
        return "图层数据未覆盖用地范围", "the layer does not cover the footprint"
    margin = max(1.0, reach)
    x0, y0, x1, y1 = extent[0] - margin, extent[1] - margin, extent[2] + margin, extent[3] + margin
    fx0, fy0, fx1, fy1 = bounds
    inside = x0 <= fx0 and y0 <= fy0 and fx1 <= x1 and fy1 <= y1
    if not inside and (
        fx1 < x0 or fx0 > x1 or fy1 < y0 or fy0 > y1 or not shapely.box(x0, y0, x1, y1).intersects(fp)
    ):
        return "图层数据未覆盖用地范围", "the layer does not cover the footprint"
    return None


def _apply_rules(
    findings: dict[str, Finding],
    tallies: dict[str, _Tally],
    plan: _LayerPlan,
    outcomes: OutcomeCache,
    project_type: str,
    flags: frozenset[str],
    fid: int,
    candidate: _Candidate,
    overlap: _Overlap | None,
    prohibited: list[shapely.Geometry],
) -> None:
    """Record every rule of the feature's layer that fires on it (its overlap is measured already)."""
    props = candidate.props
    distance = candidate.distance
    for rule, reach in plan.tests:
        if reach is None:  # overlap, compatibility and demolition rules
            if overlap is None:
                if distance > 0:
                    continue
            elif not overlap.counts:
                continue
        elif distance > reach:
            continue
        outcome = outcomes.get(rule, project_type, props, flags)
        if outcome is None:
            continue
        if outcome.grade is Grade.PROHIBITED and overlap is not None:
            prohibited.append(overlap.geometry)
        area = overlap.area if overlap is not None else None
        hit = {"fid": fid, "attributes": props, "overlap_m2": area, "distance_m": round(distance, 3)}
        tally = tallies.get(rule.id)
        if tally is None:
            entry = plan.layer.entry
            measured = {"area_m2": area or 0.0, "distance_m": distance, "distance": distance}
            findings[rule.id] = _new_finding(
                rule,
                entry,
                outcome,
                {**_labelled(plan.code_labels, props), **measured},
                values_en={**_labelled(plan.code_labels_en, props), **measured},
            )
            tally = tallies[rule.id] = _Tally([], 0.0 if area is not None else None, distance)
        tally.hits.append(hit)
        if area is not None:
            tally.overlap = (tally.overlap or 0.0) + area
        tally.distance = min(tally.distance, distance)
