"""HTML renderings of the OGC API documents: small Jinja2 templates, escaped, with no external assets."""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.responses import HTMLResponse

from app.ogc.schemas import Collection, Link
from layers.catalog.model import AttributeType, LayerEntry

_BASE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · 多规合一底图要素服务</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f4e79;color:#fff;padding:.8rem 1.5rem}header a{color:#fff}
main{padding:1rem 1.5rem;max-width:1400px}nav.crumbs{font-size:.9rem;margin-bottom:.5rem}
table{border-collapse:collapse;background:#fff;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef3f8}small,.muted{color:#666}.pager a{margin-right:1rem}
code{background:#eee;padding:0 .2rem}
</style></head><body>
<header><strong><a href="{{ home }}">多规合一底图要素服务</a></strong>
<span class="muted" style="color:#cfe">OGC API – Features</span></header>
<main>{% if crumbs %}<nav class="crumbs">{% for c in crumbs %}<a href="{{ c[1] }}">{{ c[0] }}</a> ›
{% endfor %}{{ title }}</nav>{% endif %}<h1>{{ title }}</h1>{% block body %}{% endblock %}
<p class="muted">其他格式：{% for l in links if l.rel == 'alternate' %}<a href="{{ l.href }}">{{ l.type }}</a>
{% endfor %}</p></main></body></html>"""

_LANDING = """{% extends "base" %}{% block body %}<p>{{ doc.description }}</p>
<ul>{% for l in doc.links if l.rel not in ('self', 'alternate') %}
<li><a href="{{ l.href }}">{{ l.title or l.rel }}</a> <small>{{ l.rel }} · {{ l.type }}</small></li>
{% endfor %}
</ul>{% endblock %}"""

_CONFORMANCE = """{% extends "base" %}{% block body %}<ul>{% for c in classes %}
<li><code>{{ c }}</code></li>{% endfor %}</ul>{% endblock %}"""

_COLLECTIONS = """{% extends "base" %}{% block body %}<p>共 {{ rows|length }} 个要素集合。</p>
<table><thead><tr><th>编码</th><th>名称</th><th>说明</th><th>要素数</th></tr></thead><tbody>
{% for c, count in rows %}<tr><td><a href="{{ c.links[0].href }}">{{ c.id }}</a></td><td>{{ c.title }}</td>
<td>{{ c.description }}</td><td>{{ count if count is not none else '—' }}</td></tr>{% endfor %}
</tbody></table>{% endblock %}"""

_COLLECTION = """{% extends "base" %}{% block body %}<p>{{ c.description }}</p>
<p><a href="{{ items_href }}">浏览要素</a>（共 {{ count if count is not none else 0 }} 个）</p>
<table><tbody><tr><th>编码</th><td>{{ c.id }}</td></tr>
<tr><th>范围（CRS84）</th><td>{{ c.extent.spatial.bbox[0]|join(', ') if c.extent else '—' }}</td></tr>
<tr><th>坐标参照系</th><td>{{ c.crs|join('<br>'|safe) }}</td></tr>
<tr><th>存储坐标系</th><td>{{ c.storage_crs }}</td></tr></tbody></table>
<h2>属性</h2><table><thead><tr><th>属性名</th><th>中文名</th><th>类型</th><th>代码表</th></tr></thead><tbody>
{% for a in entry.attributes %}<tr><td><code>{{ a.name }}</code></td><td>{{ a.label_zh }}</td>
<td>{{ a.type.value }}{% if a.unit %}（{{ a.unit }}）{% endif %}</td>
<td>{% for code in a.codes or [] %}{{ code.value }} = {{ code.label_zh }}{% if not loop.last %}；{% endif %}
{% endfor %}</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_ITEMS = """{% extends "base" %}{% block body %}
<p>匹配 {{ matched }} 个，本页 {{ rows|length }} 个（自第 {{ offset + 1 }} 个起）。</p>
<p class="pager">{% for l in links if l.rel in ('prev', 'next') %}<a href="{{ l.href }}">{{ l.title }}</a>
{% endfor %}</p>
<table><thead><tr><th>编号</th><th>几何</th>
{% for name, label in columns %}<th title="{{ name }}">{{ label }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr><td><a href="{{ row.href }}">{{ row.id }}</a></td>
<td>{{ row.geometry }}</td>{% for value in row.cells %}<td>{{ value }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{% endblock %}"""

_ITEM = """{% extends "base" %}{% block body %}<table><tbody>
<tr><th>编号</th><td>{{ row.id }}</td></tr><tr><th>几何</th><td>{{ row.geometry }}</td></tr>
{% for (name, label), value in pairs %}<tr><th title="{{ name }}">{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}</tbody></table>{% endblock %}"""

_ENV = Environment(
    loader=DictLoader(
        {
            "base": _BASE,
            "landing": _LANDING,
            "conformance": _CONFORMANCE,
            "collections": _COLLECTIONS,
            "collection": _COLLECTION,
            "items": _ITEMS,
            "item": _ITEM,
        }
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(template: str, home: str, title: str, links: list[Link], **context: Any) -> HTMLResponse:
    """One page of the HTML encoding."""
    crumbs = context.pop("crumbs", [])
    page = _ENV.get_template(template).render(title=title, home=home, links=links, crumbs=crumbs, **context)
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
