"""TileJSON documents and the MapLibre style generated from the layer catalog."""

from __future__ import annotations

from typing import Any

from layers.catalog.model import LayerEntry, LayerKind, Style
from layers.district import DISTRICT
from layers.tiles.glyphs import FONTSTACK
from layers.tiles.mvt import label_code, tile_attributes

DISTRICT_BOUNDS = list(DISTRICT.extent)
MAX_ZOOM = 16  # tiles exist beyond it; clients over-zoom the z16 tiles
VECTOR_SOURCE = "duogui"


def tilejson(entries: list[LayerEntry], tiles: list[str], bounds: list[float] | None) -> dict[str, Any]:
    """A TileJSON 3.0.0 document for vector tiles of ``entries``."""
    box = bounds or DISTRICT_BOUNDS
    return {
        "tilejson": "3.0.0",
        "name": "、".join(e.name_zh for e in entries),
        "description": "; ".join(e.name_en for e in entries),
        "tiles": tiles,
        "minzoom": min(e.min_zoom for e in entries),
        "maxzoom": MAX_ZOOM,
        "bounds": box,
        "center": [
            round((box[0] + box[2]) / 2, 6),
            round((box[1] + box[3]) / 2, 6),
            max(12, entries[0].min_zoom),
        ],
        "vector_layers": [
            {
                "id": e.code,
                "description": e.name_zh,
                "minzoom": e.min_zoom,
                "maxzoom": MAX_ZOOM,
                "fields": {a.name: f"{a.label_zh} ({a.type.value})" for a in e.attributes},
            }
            for e in entries
        ],
    }


def _colour(style: Style, default: str | None) -> Any:
    """A colour, or a MapLibre ``match`` expression on the categorised attribute."""
    if style.by and style.categories:
        expression: list[Any] = ["match", ["to-string", ["get", style.by]]]
        for value, colour in style.categories.items():
            expression += [value, colour]
        return [*expression, default or "#888888"]
    return default or "#888888"


def _line_colour(style: Style) -> Any:
    """An area's outline colour, by its second categorised attribute when the style has one."""
    if style.line_by and style.line_categories:
        outline = Style(by=style.line_by, categories=style.line_categories)
        return _colour(outline, style.line or "#555555")
    return style.line or "#555555"


def style_layers(entry: LayerEntry) -> list[dict[str, Any]]:
    """The MapLibre style layer of one catalog layer (areas also get an outline layer)."""
    s = entry.style
    common = {
        "source": VECTOR_SOURCE,
        "source-layer": entry.code,
        "minzoom": entry.min_zoom,
        "metadata": {
            "duogui:name_zh": entry.name_zh,
            "duogui:name_en": entry.name_en,
            "duogui:group": entry.group,
        },
        "layout": {"visibility": "none"},
    }
    if entry.kind is LayerKind.AREA:
        return [
            {
                **common,
                "id": entry.code,
                "type": "fill",
                # A declared opacity of 0 (boundaries drawn as lines only) is kept, not taken for "unset".
                "paint": {
                    "fill-color": _colour(s, s.fill),
                    "fill-opacity": 0.5 if s.fill_opacity is None else s.fill_opacity,
                },
            },
            {
                **common,
                "id": f"{entry.code}-outline",
                "type": "line",
                "paint": {"line-color": _line_colour(s), "line-width": s.line_width or 0.5},
            },
        ]
    if entry.kind is LayerKind.LINE:
        paint: dict[str, Any] = {"line-color": _colour(s, s.line), "line-width": s.line_width or 1}
        if s.dash:
            paint["line-dasharray"] = list(s.dash)
        return [{**common, "id": entry.code, "type": "line", "paint": paint}]
    return [
        {
            **common,
            "id": entry.code,
            "type": "circle",
            "paint": {
                "circle-color": _colour(s, s.circle),
                "circle-radius": s.radius or 4,
                "circle-stroke-color": "#ffffff",
                "circle-stroke-width": 0.5,
            },
        }
    ]


# The glyph ranges /tiles/fonts serves (built from the bundled Noto Sans SC): labels need no local font.
FONT = FONTSTACK


def label_attribute(entry: LayerEntry) -> str | None:
    """The attribute holding a feature's name, when the layer has one (tiles carry it)."""
    names = [n for n in tile_attributes(entry) if n == "name" or n.endswith("_name")]
    return names[0] if names else None


def label_text(entry: LayerEntry) -> Any:
    """A feature's label: its name attribute, or its base-map code drawn as the code's Chinese label."""
    attribute = label_attribute(entry)
    if attribute is not None:
        return ["get", attribute]
    code = label_code(entry)
    if code is None or not code.codes:
        return None
    expression: list[Any] = ["match", ["to-string", ["get", code.name]]]
    for item in code.codes:
        expression += [item.value, item.label_zh]
    return [*expression, ""]


def label_layer(entry: LayerEntry) -> dict[str, Any] | None:
    """A symbol layer with the Chinese names of a layer's features, in the served glyphs of :data:`FONT`."""
    text = label_text(entry)
    if text is None:
        return None
    layout: dict[str, Any] = {
        "text-field": text,
        "text-font": [FONT],
        "text-size": 12,
        "visibility": "none",
        "symbol-placement": "line" if entry.kind is LayerKind.LINE else "point",
    }
    if entry.kind is LayerKind.POINT:
        layout.update({"text-offset": [0, 1.1], "text-anchor": "top"})
    return {
        "id": f"{entry.code}-label",
        "type": "symbol",
        "source": VECTOR_SOURCE,
        "source-layer": entry.code,
        # Base-map names (district, sub-districts, water, roads) are read from the first view on.
        "minzoom": entry.min_zoom if entry.base_map else max(entry.min_zoom, 12),
        "metadata": {"duogui:name_zh": entry.name_zh, "duogui:group": entry.group},
        "layout": layout,
        "paint": {"text-color": "#333333", "text-halo-color": "#ffffff", "text-halo-width": 1.2},
    }


def maplibre_style(entries: list[LayerEntry], base_url: str) -> dict[str, Any]:
    """One vector source for every visible vector layer, raster sources, one style layer per catalog layer."""
    vector = [e for e in entries if e.kind is not LayerKind.RASTER]
    sources: dict[str, Any] = {
        VECTOR_SOURCE: {
            "type": "vector",
            "tiles": [f"{base_url}/tiles/{','.join(e.code for e in vector)}/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": min((e.min_zoom for e in vector), default=0),
            "maxzoom": MAX_ZOOM,
            "bounds": DISTRICT_BOUNDS,
        }
    }
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f4f3ef"}}
    ]
    for entry in entries:
        if entry.kind is LayerKind.RASTER:
            sources[entry.code] = {
                "type": "raster",
                "tileSize": 256,
                "bounds": DISTRICT_BOUNDS,
                "maxzoom": MAX_ZOOM,
                "tiles": [f"{base_url}/tiles/raster/{entry.code}/{{z}}/{{x}}/{{y}}.png"],
            }
            layers.append(
                {
                    "id": entry.code,
                    "type": "raster",
                    "source": entry.code,
                    "metadata": {"duogui:name_zh": entry.name_zh, "duogui:group": entry.group},
                    "layout": {"visibility": "none"},
                    "paint": {"raster-opacity": 0.8},
                }
            )
    for entry in vector:
        layers.extend(style_layers(entry))
    labels = [label_layer(e) for e in vector]
    layers.extend(label for label in labels if label is not None)
    return {
        "version": 8,
        "glyphs": f"{base_url}/tiles/fonts/{{fontstack}}/{{range}}.pbf",
        "name": "多规合一 · 一张底图",
        # The 底图 ticked on first sight, in catalog order (the browser's default selection).
        "metadata": {
            "duogui:layers": len(entries),
            "duogui:base_map": [e.code for e in entries if e.base_map],
        },
        "center": [round(v, 4) for v in DISTRICT.centre],
        "zoom": DISTRICT.start_zoom,
        "sources": sources,
        "layers": layers,
    }
