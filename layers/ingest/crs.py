"""Coordinate systems of imported files: resolving the source CRS and checking it lands in the district."""

from __future__ import annotations

import functools
import math
from typing import Any

import pyproj
from pyproj.exceptions import CRSError, ProjError

from layers.district import DISTRICT, Bounds
from layers.ingest.errors import IngestError

STORAGE_CRS = pyproj.CRS.from_epsg(DISTRICT.storage_crs.srid)

_CRS_EXAMPLE_ZH = f"例如 {DISTRICT.storage_crs.label} {DISTRICT.storage_crs.name_zh}"
_CRS_EXAMPLE_EN = f"e.g. {DISTRICT.storage_crs.label} {DISTRICT.storage_crs.name_en}"
_METRES_PER_DEGREE = 111_320.0
_MAX_OVERRIDE_CHARS = 20_000

# Gauss-Kruger CRSs under which the district can be expressed, per datum (the district block's list).
_GK_CANDIDATES = DISTRICT.gauss_kruger
_DATUM_BY_SEMI_MAJOR = {6378140.0: "xian1980", 6378245.0: "beijing1954"}


def resolve_crs(file_crs: pyproj.CRS | None, override: str | None) -> pyproj.CRS:
    """Return the horizontal CRS to read the file in: the override if given, else the file's own CRS."""
    if override is not None and override.strip():
        return _horizontal(_parse_override(override.strip()), override.strip())
    if file_crs is None:
        raise IngestError(
            f"文件未包含坐标系信息，请用 --crs 指定（{_CRS_EXAMPLE_ZH}）",
            f"The file has no coordinate reference system; give one with --crs ({_CRS_EXAMPLE_EN}).",
            code="no_crs",
        )
    return _horizontal(file_crs, file_crs.name)


def check_in_district(
    bounds: tuple[float, float, float, float], crs: pyproj.CRS, *, margin_m: float = 5000
) -> None:
    """Refuse data whose extent does not overlap the district, diagnosing the likely CRS mistake."""
    raw: Bounds = (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))
    if not all(math.isfinite(v) for v in raw):
        return  # an empty layer has no extent to check
    lonlat = _lonlat_bounds(raw, crs)
    if lonlat is not None and _overlaps_district(lonlat, margin_m):
        return
    diagnosis = _diagnose(raw, crs, margin_m)
    west, south, east, north = DISTRICT.extent
    expected_zh = f"{DISTRICT.name_zh}范围约为 {west:.2f}–{east:.2f}°E、{south:.2f}–{north:.2f}°N"
    expected_en = f"{DISTRICT.name_en} lies at about {west:.2f}–{east:.2f}°E, {south:.2f}–{north:.2f}°N"
    if lonlat is None:
        found_zh = f"坐标 {_fmt(raw)} 超出坐标系 {describe_crs(crs)} 的有效范围"
        found_en = f"The coordinates {_fmt(raw)} are outside the valid range of {describe_crs(crs)}"
    else:
        found_zh = f"按 {describe_crs(crs)} 换算为经纬度 {_fmt_lonlat(lonlat)}"
        found_en = f"In {describe_crs(crs)} they fall at {_fmt_lonlat(lonlat)}"
    cause, suggested, hint_zh, hint_en = diagnosis or (
        "unknown",
        None,
        "未能判断，请检查坐标系，可用 --crs 指定正确的坐标系",
        "not found; check the coordinate reference system and give the right one with --crs",
    )
    raise IngestError(
        f"数据不在{DISTRICT.name_zh}范围内，可能原因：{hint_zh}。{found_zh}，{expected_zh}。",
        f"The data lies outside {DISTRICT.name_en} district. "
        f"Likely cause: {hint_en}. {found_en}; {expected_en}.",
        code="outside_district",
        details=[
            {
                "cause": cause,
                "suggested_crs": suggested,
                "source_crs": describe_crs(crs),
                "source_bounds": list(raw),
                "lonlat_bounds": list(lonlat) if lonlat else None,
                "district_bounds": list(DISTRICT.extent),
            }
        ],
    )


@functools.lru_cache(maxsize=64)
def transformer_to_storage(crs: pyproj.CRS) -> pyproj.Transformer:
    """Return the (cached, thread-safe) transformer from ``crs`` to the storage CRS, x/y = east/north."""
    return pyproj.Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)


def describe_crs(crs: pyproj.CRS) -> str:
    """Name a CRS for messages: ``EPSG:<code> (<its name>)`` when known."""
    code = crs.to_epsg(min_confidence=90)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def _parse_override(text: str) -> pyproj.CRS:
    if len(text) > _MAX_OVERRIDE_CHARS or "init=" in text.lower():
        # "+init=" makes PROJ read a file named by the user; nobody needs it to name a CRS.
        raise _bad_crs(text[:80], "不接受的写法", "not an accepted form")
    user_input = f"EPSG:{text}" if text.isdigit() else text
    try:
        return pyproj.CRS.from_user_input(user_input)
    except (CRSError, ValueError, TypeError) as exc:
        raise _bad_crs(text[:80], "无法识别", "not recognised") from exc


def _horizontal(crs: pyproj.CRS, label: str) -> pyproj.CRS:
    """Reduce a compound or 3D CRS to its horizontal part; refuse CRSs that have none."""
    if crs.is_compound:
        horizontal = [sub for sub in crs.sub_crs_list if sub.is_geographic or sub.is_projected]
        if not horizontal:
            raise _bad_crs(label, "没有水平坐标系部分", "has no horizontal part")
        crs = horizontal[0]
    if crs.is_vertical or crs.is_geocentric or not (crs.is_geographic or crs.is_projected):
        raise _bad_crs(
            label,
            "不是水平坐标系（垂直、地心或工程坐标系）",
            "is not horizontal (vertical, geocentric or local)",
        )
    if len(crs.axis_info) > 2:
        crs = crs.to_2d()
    return crs


def _bad_crs(label: str, why_zh: str, why_en: str) -> IngestError:
    return IngestError(
        f"坐标系“{label}”{why_zh}，请用 --crs 指定水平坐标系（{_CRS_EXAMPLE_ZH}）",
        f"The coordinate reference system '{label}' is {why_en}; give a horizontal CRS with --crs "
        f"({_CRS_EXAMPLE_EN}).",
        code="bad_crs",
    )


@functools.lru_cache(maxsize=64)
def _to_lonlat(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, pyproj.CRS.from_epsg(4326), always_xy=True)


@functools.lru_cache(maxsize=64)
def _epsg(code: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(code)


def _lonlat_bounds(raw: Bounds, crs: pyproj.CRS) -> Bounds | None:
    """Transform bounds (densified edges) to lon/lat; None when they are outside the CRS's valid range."""
    minx, miny, maxx, maxy = raw
    if crs.is_geographic and not (-180 <= minx <= maxx <= 360 and -90 <= miny <= maxy <= 90):
        return None
    try:
        result = _to_lonlat(crs).transform_bounds(minx, miny, maxx, maxy, densify_pts=21)
    except ProjError:
        return None
    if not all(math.isfinite(v) for v in result):
        return None
    return (result[0], result[1], result[2], result[3])


def _overlaps_district(lonlat: Bounds, margin_m: float) -> bool:
    west, south, east, north = DISTRICT.extent
    dlat = margin_m / _METRES_PER_DEGREE
    dlon = margin_m / (_METRES_PER_DEGREE * math.cos(math.radians((south + north) / 2)))
    minx, miny, maxx, maxy = lonlat
    return minx <= east + dlon and maxx >= west - dlon and miny <= north + dlat and maxy >= south - dlat


def _lands(raw: Bounds, crs: pyproj.CRS, margin_m: float) -> bool:
    lonlat = _lonlat_bounds(raw, crs)
    return lonlat is not None and _overlaps_district(lonlat, margin_m)


Diagnosis = tuple[str, str | None, str, str]  # cause, suggested CRS, hint (zh), hint (en)


def _diagnose(raw: Bounds, crs: pyproj.CRS, margin_m: float) -> Diagnosis | None:
    """Re-read the raw bounds under candidate CRSs; the first that lands in the district names the mistake."""
    minx, miny, maxx, maxy = raw
    if crs.is_geographic and _lands((miny, minx, maxy, maxx), crs, margin_m):
        return (
            "axis_swapped",
            None,
            "经纬度顺序颠倒（纬度在前），请把经度作为 X、纬度作为 Y 重新导出",
            "latitude and longitude look swapped (latitude first); export longitude as X and latitude as Y",
        )
    if not _is_web_mercator(crs) and _lands(raw, _epsg(3857), margin_m):
        return (
            "web_mercator",
            "EPSG:3857",
            "坐标数值为 Web 墨卡托投影（米），应为 EPSG:3857",
            "the numbers are Web Mercator metres; the CRS should be EPSG:3857",
        )
    if crs.is_projected and _lands(raw, _epsg(4490), margin_m):
        return (
            "lonlat_as_projected",
            "EPSG:4490",
            "坐标为经纬度，但声明为投影坐标系，应为 EPSG:4490（CGCS2000）或 EPSG:4326（WGS84）",
            "the coordinates are longitude/latitude but declared as a projected CRS; "
            "use EPSG:4490 (CGCS2000) or EPSG:4326 (WGS84)",
        )
    return _diagnose_gauss_kruger(raw, crs, margin_m)


def _diagnose_gauss_kruger(raw: Bounds, crs: pyproj.CRS, margin_m: float) -> Diagnosis | None:
    declared = _transverse_mercator(crs)
    datum = _datum_family(crs)
    families = [datum] + [name for name in _GK_CANDIDATES if name != datum]
    for family in families:
        for code, width in _GK_CANDIDATES[family]:
            candidate = _epsg(code)
            params = _transverse_mercator(candidate)
            if params is None or (family == datum and params == declared):
                continue
            if _lands(raw, candidate, margin_m):
                return _explain_gk(crs, declared, code, width, params)
    return None


def _explain_gk(
    crs: pyproj.CRS,
    declared: tuple[float, float] | None,
    code: int,
    width: int,
    params: tuple[float, float],
) -> Diagnosis:
    suggested = f"EPSG:{code}"
    cm, false_easting = params
    zone = int(false_easting // 1_000_000)
    if declared is None:
        return (
            "projected_as_geographic" if crs.is_geographic else "wrong_crs",
            suggested,
            f"坐标为高斯-克吕格投影坐标（米），与声明的坐标系不符，应为 {suggested}（{_epsg(code).name}）",
            f"the coordinates are Gauss-Kruger metres, not the declared CRS; use {suggested} "
            f"({_epsg(code).name})",
        )
    declared_cm, declared_fe = declared
    if math.isclose(declared_cm, cm) and zone:
        return (
            "zone_prefix",
            suggested,
            f"坐标带号前缀 {zone}，应为 {suggested}（{width}° 带 {zone} 带号坐标）",
            f"the X values carry the zone prefix {zone}; use {suggested} "
            f"({width}-degree zone {zone}, prefixed)",
        )
    if math.isclose(declared_cm, cm):
        prefix = int(declared_fe // 1_000_000)
        return (
            "zone_prefix",
            suggested,
            f"坐标不带带号前缀，但声明的坐标系带号为 {prefix}，"
            f"应为 {suggested}（中央经线 {cm:g}°E，不带带号）",
            f"the X values have no zone prefix but the declared CRS expects zone {prefix}; use {suggested} "
            f"(CM {cm:g}E, no prefix)",
        )
    return (
        "central_meridian",
        suggested,
        f"中央经线错误：声明的坐标系中央经线为 {declared_cm:g}°E，"
        f"数据按 {cm:g}°E 解释才落在{DISTRICT.name_zh}，应为 {suggested}（{_epsg(code).name}）",
        f"wrong central meridian: the declared CRS uses {declared_cm:g}E but the data only fall in "
        f"{DISTRICT.name_en} with {cm:g}E; use {suggested} ({_epsg(code).name})",
    )


def _transverse_mercator(crs: pyproj.CRS) -> tuple[float, float] | None:
    """Central meridian and false easting of a Transverse Mercator CRS; None for other CRSs."""
    operation = crs.coordinate_operation
    if operation is None or "transverse mercator" not in operation.method_name.lower():
        return None
    values: dict[str, Any] = {param.name.lower(): param.value for param in operation.params}
    central = values.get("longitude of natural origin", values.get("longitude of origin"))
    easting = values.get("false easting")
    if central is None or easting is None:
        return None
    return (float(central), float(easting))


def _datum_family(crs: pyproj.CRS) -> str:
    ellipsoid = crs.ellipsoid
    semi_major = round(ellipsoid.semi_major_metre, 1) if ellipsoid is not None else 0.0
    return _DATUM_BY_SEMI_MAJOR.get(semi_major, "cgcs2000")


def _is_web_mercator(crs: pyproj.CRS) -> bool:
    operation = crs.coordinate_operation
    return operation is not None and "pseudo mercator" in operation.method_name.lower()


def _fmt(raw: Bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in raw) + ")"


def _fmt_lonlat(lonlat: Bounds) -> str:
    west, south, east, north = lonlat
    return f"{west:.4f}–{east:.4f}°E, {south:.4f}–{north:.4f}°N"
