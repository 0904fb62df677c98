"""The report's static site map: an SVG of the footprint and every conflicting feature, drawn on the server.

It needs no script and no tile, so the served page, the downloaded page and the PDF show the same map. The
geometries are in the storage CRS (metres, north up), scaled into a fixed pixel frame, with a scale bar, a
north arrow and a legend of the grades drawn. The SVG carries presentation attributes only (no ``style``
attribute, which the page's Content-Security-Policy would refuse) and is built with ElementTree, so any
text in it is escaped.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely

from analysis.rules.schema import Grade

WIDTH, HEIGHT = 760, 520
# The frame leaves room around the drawing: the scale bar and north arrow sit in the margin.
PAD = 36
FOOTPRINT_COLOUR = "#1f3b99"
GRADE_COLOURS = {
    Grade.PROHIBITED: "#d7191c",
    Grade.CONDITIONAL: "#fdae61",
    Grade.ADVISORY: "#2b83ba",
    Grade.INFO: "#7f7f7f",
}
# Grades drawn last lie on top: a prohibited feature is never hidden under an advisory one.
_ORDER = {Grade.INFO: 0, Grade.ADVISORY: 1, Grade.CONDITIONAL: 2, Grade.PROHIBITED: 3}


@dataclass(frozen=True)
class MapFeature:
    """One conflicting feature to draw: its grade and its geometry in the storage CRS."""

    grade: Grade
    geometry: shapely.Geometry


class _Frame:
    """Storage-CRS metres to SVG pixels: one scale for both axes, y flipped (north up), centred."""

    def __init__(self, bounds: Sequence[float]) -> None:
        west, south, east, north = bounds
        span_x, span_y = max(east - west, 1.0), max(north - south, 1.0)
        self.scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
        self.x0 = west - ((WIDTH - 2 * PAD) / self.scale - span_x) / 2 - PAD / self.scale
        self.y0 = north + ((HEIGHT - 2 * PAD) / self.scale - span_y) / 2 + PAD / self.scale

    def point(self, x: float, y: float) -> str:
        return f"{(x - self.x0) * self.scale:.1f},{(self.y0 - y) * self.scale:.1f}"

    def path(self, geometry: shapely.Geometry) -> str:
        """SVG path data of a polygon's or line's rings (holes drawn by the even-odd rule)."""
        parts: list[str] = []
        for part in getattr(geometry, "geoms", [geometry]):
            if isinstance(part, shapely.Polygon):
                for ring in (part.exterior, *part.interiors):
                    parts.append("M" + " L".join(self.point(x, y) for x, y in ring.coords[:-1]) + " Z")
            elif isinstance(part, shapely.LineString):
                parts.append("M" + " L".join(self.point(x, y) for x, y in part.coords))
        return " ".join(parts)


def _nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``metres``."""
    power = 10 ** math.floor(math.log10(max(metres, 1e-3)))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def _element(parent: ET.Element, tag: str, **attributes: object) -> ET.Element:
    return ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attributes.items()})


def _draw_feature(svg: ET.Element, frame: _Frame, feature: MapFeature) -> None:
    colour = GRADE_COLOURS[feature.grade]
    css = f"site-conflict site-{feature.grade.value}"
    geometry = feature.geometry
    for part in getattr(geometry, "geoms", [geometry]):
        if isinstance(part, shapely.Point):
            x, y = frame.point(part.x, part.y).split(",")
            _element(
                svg, "circle", cx=x, cy=y, r=6, fill=colour, stroke=colour, stroke_width=2, **{"class": css}
            )
        elif isinstance(part, shapely.Polygon):
            _element(
                svg,
                "path",
                d=frame.path(part),
                fill=colour,
                fill_opacity=0.45,
                fill_rule="evenodd",
                stroke=colour,
                stroke_width=2,
                **{"class": css},
            )
        elif isinstance(part, shapely.LineString):
            _element(
                svg, "path", d=frame.path(part), fill="none", stroke=colour, stroke_width=4, **{"class": css}
            )
        else:
            for piece in getattr(part, "geoms", []):  # a collection left by an intersection
                _draw_feature(svg, frame, MapFeature(feature.grade, piece))


def _scale_and_north(svg: ET.Element, frame: _Frame, metres_label: str) -> None:
    length = _nice_length((WIDTH / 4) / frame.scale)
    pixels = length * frame.scale
    x, y = 16, HEIGHT - 14
    bar = _element(svg, "g", **{"class": "site-scale"})
    _element(bar, "rect", x=x, y=y - 6, width=f"{pixels:.1f}", height=6, fill="#222")
    _element(
        bar,
        "rect",
        x=f"{x + pixels / 2:.1f}",
        y=y - 6,
        width=f"{pixels / 2:.1f}",
        height=6,
        fill="#fff",
        stroke="#222",
        stroke_width=1,
    )
    label = _element(bar, "text", x=f"{x + pixels + 6:.1f}", y=y, font_size=13, fill="#222")
    label.text = f"{length:,.0f} {metres_label}"
    north = _element(svg, "g", **{"class": "site-north"})
    nx, ny = WIDTH - 24, 16
    _element(
        north, "path", d=f"M{nx},{ny} L{nx + 9},{ny + 26} L{nx},{ny + 20} L{nx - 9},{ny + 26} Z", fill="#222"
    )
    arrow = _element(north, "text", x=nx, y=ny + 42, font_size=14, fill="#222", text_anchor="middle")
    arrow.text = "N"


def site_map_svg(
    footprint: shapely.Geometry, features: Iterable[MapFeature], *, title: str, metres_label: str = "m"
) -> str:
    """The map as an ``<svg>`` element (to place inline in a page), footprint over the features."""
    features = sorted(features, key=lambda f: _ORDER[f.grade])
    bounds = shapely.bounds(shapely.union_all([footprint, *(f.geometry for f in features)]))
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "width": str(WIDTH),
            "height": str(HEIGHT),
            "class": "site-map",
            "role": "img",
        },
    )
    ET.SubElement(svg, "title").text = title
    _element(svg, "rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff")
    frame = _Frame(bounds)
    for feature in features:
        _draw_feature(svg, frame, feature)
    _element(
        svg,
        "path",
        d=frame.path(footprint),
        fill="none",
        stroke=FOOTPRINT_COLOUR,
        stroke_width=3,
        stroke_linejoin="round",
        **{"class": "site-footprint"},
    )
    _scale_and_north(svg, frame, metres_label)
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
