"""The JSON documents of the OGC API: landing page, conformance, collections and item envelopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request

from app.ogc.params import CRS84, GEOJSON, HTML, JSON, STORAGE_CRS_URI, SUPPORTED_CRS, ItemsQuery
from app.ogc.queries import CollectionState
from app.ogc.schemas import Collection, Collections, Conformance, Extent, LandingPage, Link, SpatialExtent
from layers.catalog.model import LayerEntry
from layers.district import DISTRICT

OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"

CONFORMANCE_CLASSES = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]

SERVICE_TITLE = "多规合一底图要素服务"
SERVICE_DESCRIPTION = (
    f"{DISTRICT.name_zh}“多规合一”平台一张底图的矢量图层，按 OGC API – Features 提供（GeoJSON、HTML；"
    f"CRS84 与 {DISTRICT.storage_crs.label}）。"
    "Base-map vector layers of the Duogui platform as OGC API – Features."
)


def with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    """``url`` with a query string of ``pairs`` (in order)."""
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _format_links(url: str, html: bool, json_type: str, title: str) -> list[Link]:
    """The self link of the format served, then the alternate link of the other format."""
    as_json = Link(
        href=with_query(url, [("f", "json")]), rel="alternate", type=json_type, title=f"{title}（JSON）"
    )
    as_html = Link(
        href=with_query(url, [("f", "html")]), rel="alternate", type=HTML, title=f"{title}（HTML）"
    )
    own, other = (as_html, as_json) if html else (as_json, as_html)
    own.rel = "self"
    return [own, other]


def landing_page(request: Request, html: bool) -> LandingPage:
    """The landing page with links to the API definition, conformance and the collections."""
    base, root = str(request.url_for("ogc_landing_page")), str(request.base_url)
    links = _format_links(base, html, JSON, "本页")
    links += [
        Link(
            href=str(request.url_for("ogc_api")),
            rel="service-desc",
            type=OPENAPI_30,
            title="API 定义",
        ),
        Link(href=root + "api/docs", rel="service-doc", type=HTML, title="API 文档"),
        Link(
            href=str(request.url_for("ogc_conformance")),
            rel="conformance",
            type=JSON,
            title="符合的标准类",
        ),
        Link(href=str(request.url_for("ogc_collections")), rel="data", type=JSON, title="要素集合"),
    ]
    return LandingPage(title=SERVICE_TITLE, description=SERVICE_DESCRIPTION, links=links)


def conformance() -> Conformance:
    """The conformance declaration."""
    return Conformance(conforms_to=CONFORMANCE_CLASSES)


def describe(entry: LayerEntry) -> str:
    """The description of a collection: the catalog's text, English name and provenance."""
    parts = [entry.description_zh] if entry.description_zh else []
    parts.append(f"{entry.name_en}。责任部门：{entry.department}；数据来源：{entry.source}；")
    parts[-1] += f"数据时点：{entry.vintage.isoformat()}" + (
        f"；比例尺：{entry.scale}" if entry.scale else ""
    )
    return " ".join(parts) + "。"


def collection(request: Request, entry: LayerEntry, state: CollectionState | None, html: bool) -> Collection:
    """The description of one collection with its extent, CRSs and item links."""
    url = str(request.url_for("ogc_collection", code=entry.code))
    items = str(request.url_for("ogc_items", code=entry.code))
    links = _format_links(url, html, JSON, entry.name_zh)
    links += [
        Link(href=with_query(items, [("f", "json")]), rel="items", type=GEOJSON, title="要素（GeoJSON）"),
        Link(href=with_query(items, [("f", "html")]), rel="items", type=HTML, title="要素（HTML）"),
    ]
    extent = None
    if state is not None and state.bbox is not None:
        box = [round(v, 7) for v in state.bbox]
        extent = Extent(spatial=SpatialExtent(bbox=[box], crs=CRS84))
    return Collection(
        id=entry.code,
        title=entry.name_zh,
        description=describe(entry),
        links=links,
        extent=extent,
        crs=SUPPORTED_CRS,
        storage_crs=STORAGE_CRS_URI,
    )


def collections(
    request: Request, entries: list[LayerEntry], states: dict[str, CollectionState], html: bool
) -> Collections:
    """The collections document."""
    url = str(request.url_for("ogc_collections"))
    return Collections(
        links=_format_links(url, html, JSON, "要素集合"),
        collections=[collection(request, e, states.get(e.code), html) for e in entries],
    )


def _page_url(request: Request, limit: int, offset: int, fmt: str) -> str:
    """The items URL with every other parameter of this request kept and limit/offset/f replaced."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset", "f")]
    url = str(request.url.replace(query=""))
    return with_query(url, [*kept, ("limit", str(limit)), ("offset", str(offset)), ("f", fmt)])


def items_links(request: Request, query: ItemsQuery, matched: int, returned: int, html: bool) -> list[Link]:
    """Self/alternate, next/prev (when there are such pages) and collection links of an items page."""
    fmt, media = ("html", HTML) if html else ("json", GEOJSON)
    other_fmt, other_media = ("json", GEOJSON) if html else ("html", HTML)
    limit, offset = query.limit, query.offset
    links = [
        Link(href=_page_url(request, limit, offset, fmt), rel="self", type=media, title="本页"),
        Link(href=_page_url(request, limit, offset, other_fmt), rel="alternate", type=other_media),
    ]
    if offset + returned < matched:
        next_url = _page_url(request, limit, offset + limit, fmt)
        links.append(Link(href=next_url, rel="next", type=media, title="下一页"))
    if offset > 0:
        prev_url = _page_url(request, limit, max(0, offset - limit), fmt)
        links.append(Link(href=prev_url, rel="prev", type=media, title="上一页"))
    code = request.path_params["code"]
    links.append(Link(href=str(request.url_for("ogc_collection", code=code)), rel="collection", type=JSON))
    return links


def item_links(request: Request, code: str, feature_id: str, html: bool) -> list[Link]:
    """Self/alternate and collection links of a single feature."""
    url = str(request.url_for("ogc_item", code=code, feature_id=feature_id))
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "f"]
    own, other = (HTML, GEOJSON) if html else (GEOJSON, HTML)
    return [
        Link(href=with_query(url, [*kept, ("f", "html" if html else "json")]), rel="self", type=own),
        Link(href=with_query(url, [*kept, ("f", "json" if html else "html")]), rel="alternate", type=other),
        Link(href=str(request.url_for("ogc_collection", code=code)), rel="collection", type=JSON),
    ]


def time_stamp() -> str:
    """The response time in RFC 3339 (UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feature_collection(features: list[str], matched: int, links: list[Link]) -> str:
    """A GeoJSON FeatureCollection around features already serialised by the database."""
    meta = {
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": time_stamp(),
        "links": [link.model_dump(exclude_none=True) for link in links],
    }
    tail = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]," + tail[1:]


def feature_document(feature: str, links: list[Link]) -> str:
    """A single GeoJSON Feature with its links added."""
    tail = json.dumps([link.model_dump(exclude_none=True) for link in links], ensure_ascii=False)
    return feature[:-1] + ',"links":' + tail + "}"
