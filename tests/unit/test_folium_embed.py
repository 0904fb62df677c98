"""A folium map in a printable page: only its own blocks are taken, user text is escaped, hashes are exact."""

from __future__ import annotations

import folium
import pytest
from branca.element import Element

from analysis.folium_embed import embed, local_map, text
from analysis.print_page import hash_source
from app.csp import PAGE_POLICY, page_policy

SQUARE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[114, 22], [114.1, 22], [114.1, 22.1], [114, 22]]]},
    "properties": {"code": text("</script><b>")},
}


def _map() -> folium.Map:
    fmap = local_map(height=300)
    group = folium.FeatureGroup(name=text('"><img src=x>')).add_to(fmap)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [SQUARE]},
        style_function=lambda _f: {"color": "#333333"},
        tooltip=folium.GeoJsonTooltip(fields=["code"]),
    ).add_to(group)
    folium.LayerControl().add_to(fmap)
    return fmap


def test_text_is_escaped_for_leaflets_html() -> None:
    # By hand: each of < > & " ' becomes its entity.
    assert text('<a href="x">&\'</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;&lt;/a&gt;"
    assert text(None) == "" and text(12) == "12"


def test_a_map_is_cut_into_its_styles_and_scripts() -> None:
    fmap = _map()
    drawn = embed(fmap)
    assert drawn.id == fmap.get_name() and drawn.id.startswith("map_")
    assert f"var {drawn.id} = L.map(" in drawn.script
    assert any(f"#{drawn.id}" in style and "height: 300.0px" in style for style in drawn.head_styles)
    assert any(".foliumtooltip" in style for style in drawn.head_styles)  # GeoJsonTooltip's own style
    assert [s for s in drawn.head_scripts if "L_NO_TOUCH" in s] != []
    assert drawn.scripts[-1] == drawn.script
    # No address outside the page: Leaflet is the page's to load, never folium's CDN.
    assert all("://" not in code for code in (*drawn.head_styles, *drawn.scripts))
    # User text is in JSON strings, escaped for HTML; nothing of it can close the script.
    assert "</script" not in drawn.script and "<b>" not in drawn.script and "<img" not in drawn.script
    assert '"\\u0026lt;/script\\u0026gt;\\u0026lt;b\\u0026gt;"' in drawn.script


def test_folium_output_beyond_its_blocks_is_refused() -> None:
    with_cdn = folium.Map(tiles=None)  # folium's defaults: scripts and styles from CDNs
    with pytest.raises(ValueError, match="unexpected <script|unexpected <link"):
        embed(with_cdn)
    extra = _map()
    extra.get_root().html.add_child(Element('<img src="x" onerror="alert(1)">'))
    with pytest.raises(ValueError, match="unexpected <img"):
        embed(extra)
    attribute = _map()
    attribute.get_root().html.add_child(Element('<div style="color:red"></div>'))
    with pytest.raises(ValueError, match="unexpected <div"):
        embed(attribute)


def test_hash_sources_and_the_page_policy() -> None:
    # The SHA-256 of the empty string, base64: a well-known value.
    assert hash_source("") == "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    policy = page_policy([hash_source("a")], [hash_source("b")])
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == f"'self' {hash_source('a')}"
    assert directives["style-src"] == f"'self' {hash_source('b')}"
    assert policy.replace(f" {hash_source('a')}", "").replace(f" {hash_source('b')}", "") == PAGE_POLICY
    for bad in ("'unsafe-inline'", "*", "'sha256-x' 'unsafe-eval'"):
        with pytest.raises(ValueError):
            page_policy([bad])
