"""Routes: the facility gap analysis (寻找发展差距) of one facility type, district-wide or per sub-district.

The connection is held for the queries only (the sign-in check gives its own back before the route runs):
the key of the current inputs is read first; a stored answer is returned as it is, otherwise — admitted
through the heavy gate — the inputs and catchments are read, the connection is given back while the
allocation runs in a worker thread, and a last short lease stores the answer. When the answer's key is not
the one its deficit layer (``gap_<facility>``) holds, the layer's next version is written after the response
(a background task on its own lease), so the map's layer follows the inputs without delaying the answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from psycopg import Connection
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analysis.gaps import deficit_layer, store
from analysis.gaps.answer import Candidate, DeficitCell, FacilityFigures, Figures, GapAnswer, build_answer
from analysis.gaps.inputs import GapInputs, cache_key, gather
from analysis.standards.model import FacilityStandard, Standards, get_standards
from app.auth.deps import AllowBriefly, Grant
from app.auth.policy import Action
from app.db import AdmissionGate, leased_connection
from app.deps import catalog_of, seen_entry
from app.errors import Unprocessable
from layers.audit import Actor

router = APIRouter(prefix="/api/gaps", tags=["gaps"])

Placed = TypeVar("Placed", Candidate, DeficitCell, FacilityFigures)
# AllowBriefly: the sign-in check gives its connection back before the route runs (a stored answer is read
# on one short lease; a computed one holds none while the allocation runs).
ReadGrant = Annotated[Grant, Depends(AllowBriefly(Action.GAPS_READ))]


class GapView(GapAnswer):
    """An answer as one caller sees it: filtered to a sub-district, cells shown to those who may see them."""

    subdistrict: str | None = Field(description="所选街道代码；null 为全区")
    area: Figures = Field(description="所选范围（街道或全区）的合计")
    deficit_cells_total: int
    deficit_cells_hidden: bool = Field(description="人口格网为受限图层：无权查看者只见合计，不见格网")
    cached: bool
    answer_ms: int
    taken: list[CandidateTaken] = Field(
        default_factory=list, description="已生成项目或项目需求的候选用地（每处只能生成一次）"
    )


class CandidateTaken(BaseModel):
    """A candidate of this answer that already became a project or a demand (it is proposed once)."""

    fid: int
    kind: Literal["project", "demand"]
    id: int
    code: str | None = Field(description="项目代码（已生成项目时）")


class FacilityType(BaseModel):
    """One facility type the analysis knows."""

    code: str
    name_zh: str
    name_en: str
    radius_m: float
    per_1000: float
    unit_zh: str
    unit_en: str


class FacilityTypes(BaseModel):
    """The facility types and the standards version."""

    standards_version: str
    standards_fingerprint: str
    facilities: list[FacilityType]


def _subdistrict_codes(request: Request, standards: Standards) -> set[str]:
    entry = catalog_of(request).layers[standards.subdistricts.layer]
    attribute = next(a for a in entry.attributes if a.name == standards.subdistricts.attribute)
    return {c.value for c in attribute.codes or []}


def _answer(inputs: GapInputs) -> tuple[GapAnswer, str]:
    started = time.monotonic()
    answer = build_answer(inputs)
    answer.compute_ms = round((time.monotonic() - started) * 1000)
    return answer, answer.model_dump_json()


def known_standard(facility: str) -> tuple[Standards, FacilityStandard]:
    """The standards and the standard of ``facility`` (422 naming the known types when unknown)."""
    standards = get_standards()
    standard = standards.get(facility)
    if standard is None:
        codes = [f.code for f in standards.facilities]
        raise Unprocessable(
            f"未知的设施类型“{facility[:64]}”；可选：{'、'.join(codes)}。",
            f"Unknown facility type '{facility[:64]}'; known: {', '.join(codes)}.",
            code="unknown_facility",
        )
    return standards, standard


def _stored_state(
    conn: Connection[Any], standards: Standards, standard: FacilityStandard
) -> tuple[str, str | None, bool]:
    """(the current key, its stored answer if any, whether the deficit layer holds that key already)."""
    key = cache_key(conn, standards, standard)
    code = deficit_layer.layer_code(standard.code)
    found = deficit_layer.current(conn, code)
    return key, store.load(conn, key), found is not None and found[1] == deficit_layer.key_digest(key)


def publish_deficit(
    conn: Connection[Any], request: Request, standards: Standards, answer: GapAnswer, actor: Actor
) -> deficit_layer.Published | None:
    """Write the answer's cells in deficit as the deficit layer's next version (nothing if it holds them)."""
    return deficit_layer.publish(conn, catalog_of(request), standards, answer, actor)


async def current_answer(
    request: Request, standards: Standards, standard: FacilityStandard, actor: Actor
) -> tuple[GapAnswer, bool, bool]:
    """The answer for the current inputs: (answer, read from the store, deficit layer already current).

    A stored answer is read on one short lease. Otherwise — admitted through the heavy gate — the inputs
    and catchments are read on a lease, the connection is given back while the allocation runs in a
    worker thread, and a last short lease stores the answer. No connection is held while computing.
    """
    async with leased_connection(request) as conn:
        key, stored, published = await run_in_threadpool(_stored_state, conn, standards, standard)
    if stored is not None:
        return await run_in_threadpool(GapAnswer.model_validate_json, stored), True, published
    # Computing is costly (seconds on the district): it waits at the heavy gate, holding no connection.
    heavy: AdmissionGate = request.app.state.heavy_gate
    async with heavy.admitted():
        async with leased_connection(request) as conn:
            inputs = await run_in_threadpool(gather, conn, standards, standard)
        answer, body = await run_in_threadpool(_answer, inputs)
        async with leased_connection(request) as conn:
            await run_in_threadpool(store.save, conn, answer, body)
    return answer, False, False


async def publish_later(request: Request, standards: Standards, answer: GapAnswer, actor: Actor) -> None:
    """Publish the deficit layer after the response (a background task of the GET route)."""
    async with leased_connection(request) as conn:
        await run_in_threadpool(publish_deficit, conn, request, standards, answer, actor)


def _view(
    answer: GapAnswer, subdistrict: str | None, show_cells: bool, cells_limit: int, cached: bool, ms: int
) -> GapView:
    def here(items: Sequence[Placed]) -> list[Placed]:
        return [i for i in items if subdistrict is None or i.subdistrict == subdistrict]

    cells = here(answer.deficit_cells)
    area = answer.district
    if subdistrict is not None:
        area = next(
            (r for r in answer.subdistricts if r.subdistrict == subdistrict),
            Figures(
                subdistrict=subdistrict,
                population=0,
                covered=0,
                not_covered=0,
                unreachable=0,
                demand=0.0,
                met=0.0,
                shortfall=0.0,
                deficit_cells=0,
            ),
        )
    data = answer.model_dump()
    data.update(
        subdistricts=[
            r for r in data["subdistricts"] if subdistrict is None or r["subdistrict"] == subdistrict
        ],
        facilities=[f.model_dump() for f in here(answer.facilities)],
        candidates=[c.model_dump() for c in here(answer.candidates)],
        deficit_cells=[c.model_dump() for c in cells[:cells_limit]] if show_cells else [],
    )
    return GapView(
        **data,
        subdistrict=subdistrict,
        area=area,
        deficit_cells_total=len(cells),
        deficit_cells_hidden=not show_cells,
        cached=cached,
        answer_ms=ms,
    )


@router.get("/facilities", response_model=FacilityTypes, summary="缺口分析的设施类型与标准")
def facility_types(_: ReadGrant) -> FacilityTypes:
    """The facility types with their walking radius and 千人指标, and the standards version."""
    standards = get_standards()
    return FacilityTypes(
        standards_version=standards.version,
        standards_fingerprint=standards.fingerprint,
        facilities=[
            FacilityType(
                code=f.code,
                name_zh=f.name_zh,
                name_en=f.name_en,
                radius_m=f.radius_m.value,
                per_1000=f.provision.per_1000,
                unit_zh=f.provision.unit_zh,
                unit_en=f.provision.unit_en,
            )
            for f in standards.facilities
        ],
    )


@router.get("", response_model=GapView, summary="公共服务设施缺口分析")
async def facility_gaps(
    request: Request,
    grant: ReadGrant,
    background: BackgroundTasks,
    facility: Annotated[
        str, Query(max_length=64, description="设施类型，如 primary_school（见 /api/gaps/facilities）")
    ],
    subdistrict: Annotated[
        str | None, Query(max_length=64, description="街道代码，如 buji；缺省为全区")
    ] = None,
    cells_limit: Annotated[
        int, Query(ge=0, le=50_000, description="最多返回的缺口格网数（按缺口降序）")
    ] = 500,
) -> GapView:
    """Population covered and not within walking distance (along the roads) of a facility type, capacity
    shortfall, cells in deficit and unbuilt planned sites ranked by population newly served; the answer
    names the layer versions, the network and the standards version it was computed from."""
    started = time.monotonic()
    standards, standard = known_standard(facility)
    if subdistrict is not None and subdistrict not in _subdistrict_codes(request, standards):
        raise Unprocessable(
            f"未知的街道代码“{subdistrict[:64]}”。",
            f"Unknown sub-district '{subdistrict[:64]}'.",
            code="unknown_subdistrict",
        )
    show_cells = seen_entry(request, grant, standards.population.layer) is not None
    answer, cached, published = await current_answer(request, standards, standard, grant.actor)
    if not published:
        # The deficit layer's new version is written after the response, so the answer is not delayed.
        background.add_task(publish_later, request, standards, answer, grant.actor)
    async with leased_connection(request) as conn:
        taken = await run_in_threadpool(_taken, conn, answer)
    ms = round((time.monotonic() - started) * 1000)
    view = await run_in_threadpool(_view, answer, subdistrict, show_cells, cells_limit, cached, ms)
    shown = {c.fid for c in view.candidates}
    view.taken = [t for t in taken if t.fid in shown]
    return view


def _taken(conn: Connection[Any], answer: GapAnswer) -> list[CandidateTaken]:
    """The answer's candidates that became a project or a demand (matched on layer, version and fid)."""
    versions = {s.layer: s.version_id for s in answer.layers}
    fids = {(c.layer, c.fid) for c in answer.candidates}
    rows = conn.execute(
        "SELECT u.layer, u.version_id, u.fid, u.project_id, p.code, u.demand_id FROM gap.candidate_use u"
        " LEFT JOIN project.project p ON p.id = u.project_id WHERE u.facility = %s ORDER BY u.id",
        (answer.facility,),
    ).fetchall()
    return [
        CandidateTaken(fid=fid, kind="project", id=project_id, code=code)
        if project_id is not None
        else CandidateTaken(fid=fid, kind="demand", id=demand_id, code=None)
        for layer, version, fid, project_id, code, demand_id in rows
        if (layer, fid) in fids and versions.get(layer) == version
    ]
