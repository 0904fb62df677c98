"""HTML renderings of the OGC API documents: Jinja2 templates (templates/), autoescaped, served locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from starlette.responses import HTMLResponse

from app.ogc.schemas import Collection, Link
from layers.catalog.model import AttributeType, LayerEntry

TEMPLATES_DIR = Path(__file__).parent / "templates"
# The pages' stylesheet (no inline style: the Content-Security-Policy allows styles from the server only).
ASSETS_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/assets/ogc"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
)
_ENV.globals["assets"] = ASSETS_PATH


def render(template: str, home: str, title: str, links: list[Link], **context: Any) -> HTMLResponse:
    """One page of the HTML encoding."""
    crumbs = context.pop("crumbs", [])
    page = _ENV.get_template(f"{template}.html").render(
        title=title, home=home, links=links, crumbs=crumbs, **context
    )
    return HTMLResponse(page)


def collections_page(home: str, links: list[Link], rows: list[tuple[Collection, int | None]]) -> HTMLResponse:
    """The list of collections with their feature counts."""
    return render("collections", home, "要素集合", links, rows=rows, crumbs=[("首页", home)])


def _display(entry: LayerEntry, name: str, value: Any) -> str:
    """A property value for people: code values by their Chinese label, booleans as 是/否."""
    if value is None:
        return ""
    attribute = entry.attribute(name)
    if attribute is not None and attribute.type is AttributeType.CODE:
        label = next((c.label_zh for c in attribute.codes or [] if c.value == value), None)
        return f"{label}（{value}）" if label else str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def columns(
    entry: LayerEntry, properties: list[str] | None, features: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Table columns: the selected (or all) catalog attributes, then extra source columns."""
    names = properties if properties is not None else [a.name for a in entry.attributes]
    extra = [k for f in features for k in f.get("properties") or {} if k not in names]
    labelled = []
    for name in [*names, *dict.fromkeys(extra)]:
        attribute = entry.attribute(name)
        labelled.append((name, attribute.label_zh if attribute else name))
    return labelled


def table_row(
    entry: LayerEntry, feature: dict[str, Any], cols: list[tuple[str, str]], href: str
) -> dict[str, Any]:
    """One feature as a table row."""
    props = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    return {
        "id": feature.get("id"),
        "href": href,
        "geometry": geometry.get("type", ""),
        "cells": [_display(entry, name, props.get(name)) for name, _ in cols],
    }
