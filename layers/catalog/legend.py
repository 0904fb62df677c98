"""The map legend: each layer's symbol and category labels, as the catalog declares them."""

from __future__ import annotations

from typing import Any

from layers.catalog.model import LayerEntry


def legend(entries: list[LayerEntry]) -> list[dict[str, Any]]:
    """Legend entries: each layer's symbol and, for categorised styles, one item per category."""
    out = []
    for e in entries:
        if e.raster is not None and e.raster.unit is None:
            continue  # a shade (晕渲) has no values to read off a ramp: no legend is better than "0–255"
        s = e.style
        item: dict[str, Any] = {
            "code": e.code,
            "name_zh": e.name_zh,
            "name_en": e.name_en,
            "kind": e.kind.value,
            "group": e.group,
            "symbol": s.model_dump(exclude_none=True, exclude={"categories", "line_categories"}),
        }
        if s.by and s.categories:
            attr = e.attribute(s.by)
            labels = {c.value: (c.label_zh, c.label_en) for c in (attr.codes or [])} if attr else {}
            item["categories"] = [
                {
                    "value": v,
                    "colour": colour,
                    "label_zh": labels.get(v, (v, v))[0],
                    "label_en": labels.get(v, (v, v))[1],
                }
                for v, colour in s.categories.items()
            ]
        if s.line_by and s.line_categories:
            attr = e.attribute(s.line_by)
            labels = {c.value: (c.label_zh, c.label_en) for c in (attr.codes or [])} if attr else {}
            item["line_label_zh"] = attr.label_zh if attr else s.line_by
            item["line_label_en"] = attr.label_en if attr else s.line_by
            item["line_categories"] = [
                {
                    "value": v,
                    "colour": colour,
                    "label_zh": labels.get(v, (v, v))[0],
                    "label_en": labels.get(v, (v, v))[1],
                }
                for v, colour in s.line_categories.items()
            ]
        if s.ramp:
            item["ramp"] = [{"value": v, "colour": c} for v, c in s.ramp]
            item["unit"] = e.raster.unit if e.raster else None
        out.append(item)
    return out
