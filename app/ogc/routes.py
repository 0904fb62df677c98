"""Routes: OGC API – Features under /ogc (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS).

Collections are the vector layers of the catalog the caller may see; their ids and property names
come only from the catalog. Every route declares ``layers:read``; restricted layers a role may not
see answer 404 exactly like layers that do not exist.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.deps import seen_entry, visible_layers
from app.errors import NotFound
from app.ogc import documents, html, queries
from app.ogc.documents import OPENAPI_30
from app.ogc.oas30 import ogc_openapi
from app.ogc.openapi import (
    DOCUMENT_PARAMS,
    DOCUMENT_RESPONSES,
    FEATURE_RESPONSES,
    ITEM_PARAMS,
    ITEMS_PARAMS,
    ITEMS_RESPONSES,
)
from app.ogc.params import (
    DOCUMENT_PARAMETERS,
    GEOJSON,
    ITEM_PARAMETERS,
    ItemsQuery,
    OutputCrs,
    output_crs,
    parse_items_query,
    parse_properties,
    single_values,
    wants_html,
)
from app.ogc.schemas import Collection, Collections, Conformance, LandingPage, Link
from app.projects import map_layer
from layers.catalog.model import LayerEntry, LayerKind

router = APIRouter(prefix="/ogc", tags=["ogc-features"])

Reader = Annotated[Grant, Depends(Allow(Action.LAYERS_READ))]
CollectionId = Annotated[str, Path(description="集合编码（即底图目录中的图层编码），如 cur_poi")]
FeatureId = Annotated[str, Path(description="要素编号（fid）")]


def _visible_collections(request: Request, grant: Grant) -> list[LayerEntry]:
    """The vector layers the caller may see, in catalog order."""
    return [e for e in visible_layers(request, grant) if e.kind is not LayerKind.RASTER]


def _collection_entry(request: Request, grant: Grant, code: str) -> LayerEntry:
    """The catalog entry of a visible vector layer, else 404 (hidden layers are not revealed)."""
    entry = seen_entry(request, grant, code)
    if entry is None or entry.kind is LayerKind.RASTER:
        raise NotFound(f"要素集合“{code}”不存在。", f"No feature collection '{code}'.")
    return entry


def _states(conn: Conn, grant: Grant, entries: list[LayerEntry]) -> dict[str, queries.CollectionState]:
    """Each collection's state; a live layer's (the project library) is what the caller sees of it now."""
    states = queries.collection_states(conn, [e.code for e in entries if e.live is None])
    for e in entries:
        if e.live == map_layer.LIVE:
            live = map_layer.state(conn, grant)
            states[e.code] = queries.CollectionState(version_id=0, feature_count=live.count, bbox=live.bbox)
    return states


def _source(entry: LayerEntry, grant: Grant) -> Any:
    """A live layer's features as the caller may see them (None: the stored version's)."""
    return map_layer.source(grant) if entry.live == map_layer.LIVE else None


def _document_format(request: Request) -> bool:
    """Whether a document request wants HTML (after refusing unknown parameters)."""
    return wants_html(request, single_values(request.query_params, DOCUMENT_PARAMETERS, None))


def _home(request: Request) -> str:
    return str(request.url_for("ogc_landing_page"))


@router.get(
    "",
    name="ogc_landing_page",
    summary="OGC API 首页",
    response_model=LandingPage,
    response_model_exclude_none=True,
    responses=DOCUMENT_RESPONSES,
    openapi_extra=DOCUMENT_PARAMS,
)
def landing_page(request: Request, grant: Reader) -> Any:
    """The landing page: links to the API definition, the conformance declaration and the collections."""
    as_html = _document_format(request)
    doc = documents.landing_page(request, as_html)
    if as_html:
        return html.render("landing", _home(request), doc.title, doc.links, doc=doc)
    return doc


@router.get(
    "/api",
    name="ogc_api",
    summary="API 定义（OpenAPI 3.0）",
    response_class=JSONResponse,
    responses={200: {"content": {OPENAPI_30: {}}, "description": "OpenAPI 3.0 document of /ogc"}},
)
def api_definition(request: Request, grant: Reader) -> Response:
    """This OGC API described in OpenAPI 3.0 (the application's own document is OpenAPI 3.1)."""
    document = getattr(request.app.state, "ogc_openapi", None)
    if document is None:
        document = request.app.state.ogc_openapi = ogc_openapi(request.app.openapi())
    return JSONResponse(document, media_type=OPENAPI_30)


@router.get(
    "/conformance",
    name="ogc_conformance",
    summary="符合的标准类",
    response_model=Conformance,
    responses=DOCUMENT_RESPONSES,
    openapi_extra=DOCUMENT_PARAMS,
)
def conformance(request: Request, grant: Reader) -> Any:
    """The conformance classes implemented (Core, GeoJSON, HTML, OpenAPI 3.0, CRS by reference)."""
    doc = documents.conformance()
    if _document_format(request):
        home = _home(request)
        return html.render(
            "conformance", home, "符合的标准类", [], classes=doc.conforms_to, crumbs=[("首页", home)]
        )
    return doc


@router.get(
    "/collections",
    name="ogc_collections",
    summary="要素集合列表",
    response_model=Collections,
    response_model_exclude_none=True,
    responses=DOCUMENT_RESPONSES,
    openapi_extra=DOCUMENT_PARAMS,
)
def list_collections(request: Request, conn: Conn, grant: Reader) -> Any:
    """One collection per vector layer the caller may see, with its extent in CRS84."""
    as_html = _document_format(request)
    entries = _visible_collections(request, grant)
    states = _states(conn, grant, entries)
    doc = documents.collections(request, entries, states, as_html)
    if as_html:
        counts = [states[c.id].feature_count if c.id in states else None for c in doc.collections]
        return html.collections_page(
            _home(request), doc.links, list(zip(doc.collections, counts, strict=True))
        )
    return doc


@router.get(
    "/collections/{code}",
    name="ogc_collection",
    summary="要素集合",
    response_model=Collection,
    response_model_exclude_none=True,
    responses=DOCUMENT_RESPONSES,
    openapi_extra=DOCUMENT_PARAMS,
)
def get_collection(code: CollectionId, request: Request, conn: Conn, grant: Reader) -> Any:
    """One collection: title, description, extent, CRSs and links to its items."""
    entry = _collection_entry(request, grant, code)
    as_html = _document_format(request)
    state = _states(conn, grant, [entry]).get(code)
    doc = documents.collection(request, entry, state, as_html)
    if not as_html:
        return doc
    home = _home(request)
    collections_url = str(request.url_for("ogc_collections"))
    items_href = documents.with_query(str(request.url_for("ogc_items", code=code)), [("f", "html")])
    return html.render(
        "collection",
        home,
        entry.name_zh,
        doc.links,
        c=doc,
        entry=entry,
        count=state.feature_count if state else None,
        items_href=items_href,
        crumbs=[("首页", home), ("要素集合", collections_url)],
    )


def _selection(entry: LayerEntry, properties: list[str] | None, crs: OutputCrs) -> queries.FeatureSelection:
    """Which properties to write (all catalog attributes plus extra, or the selected ones) and the CRS."""
    all_names = [a.name for a in entry.attributes]
    return queries.FeatureSelection(
        names=properties if properties is not None else all_names,
        all_names=all_names,
        with_extra=properties is None,
        crs=crs,
    )


def _page(
    conn: Conn,
    version_id: int | None,
    query: ItemsQuery,
    selection: queries.FeatureSelection,
    source: Any = None,
) -> tuple[list[str], int]:
    """One page of features and the exact number matched (counted only when the page does not tell)."""
    if version_id is None:
        return [], 0
    features = queries.select_features(
        conn, version_id, query.where, selection, query.limit, query.offset, source
    )
    if query.offset == 0 and len(features) < query.limit:
        return features, len(features)
    return features, queries.count_features(conn, version_id, query.where, source)


@router.get(
    "/collections/{code}/items",
    name="ogc_items",
    summary="要素查询",
    response_class=Response,
    responses=ITEMS_RESPONSES,
    openapi_extra=ITEMS_PARAMS,
)
def get_items(code: CollectionId, request: Request, conn: Conn, grant: Reader) -> Response:
    """Features of the current version, filtered by bbox and attribute equality, paged by limit/offset."""
    entry = _collection_entry(request, grant, code)
    query = parse_items_query(request.query_params, entry)
    as_html = wants_html(request, dict(request.query_params))
    selection = _selection(entry, query.properties, query.crs)
    state = _states(conn, grant, [entry]).get(code)
    features, matched = _page(
        conn, state.version_id if state else None, query, selection, _source(entry, grant)
    )
    links = documents.items_links(request, query, matched, len(features), as_html)
    if as_html:
        return _items_page(request, entry, query, features, matched, links)
    body = documents.feature_collection(features, matched, links)
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{query.crs.uri}>"})


def _items_page(
    request: Request,
    entry: LayerEntry,
    query: ItemsQuery,
    features: list[str],
    matched: int,
    links: list[Link],
) -> Response:
    """The HTML table of an items page."""
    parsed = [json.loads(f) for f in features]
    cols = html.columns(entry, query.properties, parsed)
    item_url = str(request.url_for("ogc_items", code=entry.code))
    rows = [html.table_row(entry, f, cols, f"{item_url}/{f['id']}?f=html") for f in parsed]
    home = _home(request)
    crumbs = [
        ("首页", home),
        ("要素集合", str(request.url_for("ogc_collections"))),
        (entry.name_zh, str(request.url_for("ogc_collection", code=entry.code)) + "?f=html"),
    ]
    title = f"{entry.name_zh} · 要素"
    return html.render(
        "items",
        home,
        title,
        links,
        rows=rows,
        columns=cols,
        matched=matched,
        offset=query.offset,
        crumbs=crumbs,
    )


@router.get(
    "/collections/{code}/items/{feature_id}",
    name="ogc_item",
    summary="单个要素",
    response_class=Response,
    responses=FEATURE_RESPONSES,
    openapi_extra=ITEM_PARAMS,
)
def get_item(
    code: CollectionId, feature_id: FeatureId, request: Request, conn: Conn, grant: Reader
) -> Response:
    """One feature of the current version by its id (fid)."""
    entry = _collection_entry(request, grant, code)
    values = single_values(request.query_params, ITEM_PARAMETERS, None)
    as_html = wants_html(request, values)
    selection = _selection(
        entry, parse_properties(values.get("properties"), entry), output_crs(values.get("crs"))
    )
    state = _states(conn, grant, [entry]).get(code)
    feature = None
    if state is not None and state.version_id is not None and re.fullmatch(r"[0-9]{1,9}", feature_id):
        feature = queries.select_feature(
            conn, state.version_id, int(feature_id), selection, _source(entry, grant)
        )
    if feature is None:
        raise NotFound(f"要素“{feature_id}”不存在。", f"No feature '{feature_id}' in '{code}'.")
    links = documents.item_links(request, code, feature_id, as_html)
    if as_html:
        return _item_page(request, entry, selection, feature, links)
    body = documents.feature_document(feature, links)
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{selection.crs.uri}>"})


def _item_page(
    request: Request, entry: LayerEntry, selection: queries.FeatureSelection, feature: str, links: list[Link]
) -> Response:
    """The HTML table of one feature's properties."""
    parsed = json.loads(feature)
    cols = html.columns(entry, None if selection.with_extra else selection.names, [parsed])
    row = html.table_row(entry, parsed, cols, "")
    home = _home(request)
    items_href = str(request.url_for("ogc_items", code=entry.code)) + "?f=html"
    return html.render(
        "item",
        home,
        f"{entry.name_zh} · {parsed['id']}",
        links,
        row=row,
        pairs=list(zip(cols, row["cells"], strict=True)),
        crumbs=[("首页", home), (entry.name_zh, items_href)],
    )
