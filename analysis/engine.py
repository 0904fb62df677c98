"""The pre-evaluation engine: a footprint against every pre-evaluation layer, graded by the rule set.

Framework-agnostic: it takes a connection, a checked footprint, a project type and the compiled rules
(:class:`~analysis.checkplan.CheckPlan`), and returns a typed report (:mod:`analysis.report`); the API,
the CLI and batch jobs share it. A check reads the layer states (:mod:`analysis.layer_states`), gathers
the parts within reach from memory (:mod:`analysis.resident`) or the database
(:mod:`analysis.candidates`), measures them here (:func:`_measure`, one function for both paths) and
grades every feature by its layer's rules; terrain, demolition and compensation have their own modules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg import Connection

from analysis import overlay
from analysis.areas import conditional_area, is_all
from analysis.candidates import candidates_found
from analysis.checkplan import CheckedLayer, CheckPlan, LayerPlan
from analysis.coverage import Unavailable, unavailable
from analysis.demolition import demolition
from analysis.findings import Finding
from analysis.footprint import Footprint
from analysis.grading import Overlap, Tally, apply_rules
from analysis.layer_states import (
    NO_DATABASE,
    CurrentVersions,
    LayerState,
    LayerStates,
    NeedsDatabase,
    read_current,
)
from analysis.report import VERDICT_EN, VERDICT_ZH, Buildable, NotCheckable, Report, not_checkable_of
from analysis.resident import ResidentIndex
from analysis.rules.schema import Grade
from analysis.snapshot import Snapshot
from analysis.terrain import grade_terrain
from layers.catalog.model import LayerKind


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
        overlaps[across] = overlay.intersection(parts[across], fp)
    return keep, overlaps.tolist(), distance


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


def evaluate(
    conn: Connection[Any],
    footprint: Footprint,
    project_type: str,
    *,
    plan: CheckPlan,
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
    args = (footprint, project_type, plan, flags, today or date.today(), data_dir, resident)
    if resident is None:
        return _evaluate(conn, LayerStates.read(conn), *args)
    last = resident.last_states
    # Running ahead pays only when the layers are in memory (else the database is needed anyway).
    asked = CurrentVersions.ask(conn) if last is not None and resident.snapshot is not None else None
    if asked is None or last is None:
        current = read_current(conn)
    else:
        report = None
        try:
            # Anything that needs the database (a layer not held in memory, a version not seen yet)
            # gives up here and waits for the answer below.
            report = _evaluate(NO_DATABASE, last, *args)
        except NeedsDatabase:
            pass
        finally:
            current = asked.answer()
        if report is not None and current == last.current:
            return report
    states = resident.states(conn, current)
    resident.last_states = states
    return _evaluate(conn, states, *args)


def _evaluate(
    conn: Connection[Any],
    states: LayerStates,
    footprint: Footprint,
    project_type: str,
    plan: CheckPlan,
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
    plans: dict[str, LayerPlan] = {}
    held: dict[str, float] = {}
    snapshot = resident.snapshot if resident is not None else None
    tested: dict[str, Unavailable | None] = {}
    sliver_m2 = plan.ruleset.settings.sliver_area_m2
    for layer_plan in plan.layer_plans:
        layer = layer_plan.layer
        entry = layer.entry
        current = state.get(entry.code)
        coverage = current.coverage if current is not None else None
        reason = unavailable(entry, coverage, fp, layer_plan.max_age_days, today, tested, sliver_m2)
        if reason is not None:
            not_checkable.append(not_checkable_of(entry, reason))
        if current is None or (reason is not None and not reason.partial):
            continue
        plans[entry.code] = layer_plan
        if snapshot is not None and snapshot.versions.get(entry.code) == current.version_id:
            held[entry.code] = layer_plan.measure[0]
        elif current.indexed:
            indexed.append(layer)
        else:
            fallback.append((layer, current.version_id))
    if resident is not None and (indexed or fallback):
        resident.request_refresh()
    candidates = _gather(conn, plan, fp, plans, indexed, fallback, state, snapshot, held)
    findings: dict[str, Finding] = {}
    graded: dict[Grade, dict[str, list[shapely.Geometry]]] = {Grade.PROHIBITED: {}, Grade.CONDITIONAL: {}}
    found = sorted(candidates.items())
    _grade(findings, found, plans, plan, project_type, frozenset(flags), graded, footprint)
    for finding in findings.values():
        if finding.overlap_m2 is not None:
            # The overlaps lie in the footprint: a union's last bits of rounding never pass 100 %.
            finding.overlap_m2 = min(float(finding.overlap_m2), footprint.area_m2)
            finding.share_pct = round(100 * finding.overlap_m2 / footprint.area_m2, 4)
    terrain, steep = grade_terrain(
        states.rasters, footprint, project_type, plan, flags, data_dir, findings, not_checkable
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
        rules_version=plan.ruleset.version,
        repairs=footprint.repairs,
        terrain=terrain,
        demolition=demolition(conn, findings, plan.ruleset, states.ids, snapshot),
        buildable=_buildable(fp, [g for overlaps in graded[Grade.PROHIBITED].values() for g in overlaps]),
        conditional=conditional_area(graded[Grade.CONDITIONAL], steep, footprint.area_m2),
    )


def _gather(
    conn: Connection[Any],
    plan: CheckPlan,
    fp: shapely.Geometry,
    plans: dict[str, LayerPlan],
    indexed: list[CheckedLayer],
    fallback: list[tuple[CheckedLayer, int]],
    state: dict[str, LayerState],
    snapshot: Snapshot | None,
    held: dict[str, float],
) -> dict[tuple[str, int], _Candidate]:
    """The features within reach of the footprint, with their overlaps and distances.

    Parts come from memory (``held`` layers of ``snapshot``) and from the database (the others); both
    go through the same :func:`_measure`, so the path does not change the answer.
    """
    found = candidates_found(conn, plan, fp, indexed, fallback, state) if indexed or fallback else []
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


def _grade(
    findings: dict[str, Finding],
    candidates: list[tuple[tuple[str, int], _Candidate]],
    plans: dict[str, LayerPlan],
    plan: CheckPlan,
    project_type: str,
    flags: frozenset[str],
    graded: dict[Grade, dict[str, list[shapely.Geometry]]],
    footprint: Footprint,
) -> None:
    """Measure every candidate's overlap (areas and lengths in one vectorised call) and apply its rules.

    ``graded`` receives the overlaps of prohibited and conditional findings, by department."""
    overlaps: list[shapely.Geometry | None] = [
        candidate.overlap() if plans[code].layer.entry.kind is LayerKind.AREA else None
        for (code, _), candidate in candidates
    ]
    areas = shapely.area(overlaps).tolist()
    lengths = shapely.length(overlaps).tolist()
    empty = shapely.is_empty(overlaps).tolist()
    min_area, min_width = plan.ruleset.settings.sliver_area_m2, plan.ruleset.settings.sliver_width_m
    outcomes = plan.outcomes()
    tallies: dict[str, Tally] = {}
    for index, ((code, fid), candidate) in enumerate(candidates):
        geometry = overlaps[index]
        overlap = None
        if geometry is not None:
            area, length = areas[index], lengths[index]
            # Slivers: below the area tolerance, or thinner than the width one (width ≈ 2 × area / perimeter).
            sliver = area < min_area or (length > 0 and 2 * area / length < min_width)
            overlap = Overlap(geometry, area, not (empty[index] or sliver))
        apply_rules(
            tallies,
            plans[code],
            outcomes,
            project_type,
            flags,
            fid,
            candidate.props,
            candidate.distance,
            overlap,
        )
    for rule_id, tally in tallies.items():
        findings[rule_id] = finding = tally.finding(footprint.area_m2)
        if finding.grade in graded and tally.overlaps:
            # A finding over the whole footprint is the footprint: the areas of unions below need no more.
            whole = is_all(finding.overlap_m2 or 0.0, footprint.area_m2)
            overlaps = [footprint.geometry] if whole else tally.overlaps
            graded[finding.grade].setdefault(finding.department, []).extend(overlaps)


_SEVERITY = {Grade.PROHIBITED: 0, Grade.CONDITIONAL: 1, Grade.ADVISORY: 2, Grade.INFO: 3}


def _buildable(fp: shapely.Geometry, prohibited: list[shapely.Geometry]) -> Buildable:
    """The part of the footprint no prohibited rule covers."""
    remainder = shapely.difference(fp, shapely.union_all(prohibited)) if prohibited else fp
    return Buildable(
        area_m2=round(float(remainder.area), 3),
        share_pct=round(100 * float(remainder.area) / float(fp.area), 4),
        geometry_wkt=shapely.to_wkt(remainder, rounding_precision=3),
    )
