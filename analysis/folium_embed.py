"""A folium map inside a printable page: Leaflet from the app, user text as text, its inline code hashed.

folium renders a map as a few inline ``<style>`` and ``<script>`` blocks. The page around it stays an
autoescaped Jinja2 template; the map's blocks are taken from folium's output as they are, after checking
that it rendered nothing but those blocks and the map's ``<div>``, and the page's Content-Security-Policy
lists them by SHA-256, so that they run and no other inline code does (no ``'unsafe-inline'``).

folium's own templates do not autoescape. User text therefore reaches a map only as GeoJSON properties or
layer names, which folium writes with ``tojson`` (``<``, ``>``, ``&`` and ``'`` escaped, so nothing closes
the script), and it is HTML-escaped first with :func:`text`, because Leaflet shows tooltips and layer-control
names as HTML. Never pass user text to ``folium.Tooltip``/``Popup`` (raw in a JavaScript template literal)
or into a style function (its result is written into the script unescaped).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import folium
from markupsafe import Markup


def text(value: object) -> str:
    """User text for a folium map: HTML-escaped, because Leaflet shows tooltips and layer names as HTML."""
    return html.escape("" if value is None else str(value), quote=True)


def local_map(**options: Any) -> folium.Map:
    """A folium map without base-map tiles or folium's CDN links: the page loads Leaflet from the app."""
    fmap = folium.Map(tiles=None, control_scale=True, attribution_control=False, **options)
    fmap.default_js = []
    fmap.default_css = []
    return fmap


@dataclass(frozen=True)
class EmbeddedMap:
    """A rendered folium map, cut into the parts a page places: head styles and scripts, div id, script."""

    id: str
    head_styles: tuple[str, ...]
    head_scripts: tuple[str, ...]
    script: str

    @property
    def scripts(self) -> tuple[str, ...]:
        """Every inline script the map adds to a page, in page order."""
        return (*self.head_scripts, self.script)

    def context(self) -> dict[str, object]:
        """Template values: folium's own code, checked by :func:`embed`, marked safe to place as it is."""
        return {
            "id": self.id,
            "head_styles": [Markup(s) for s in self.head_styles],  # folium's output, checked by embed()
            "head_scripts": [Markup(s) for s in self.head_scripts],
            "script": Markup(self.script),
        }


class _Parts(HTMLParser):
    """folium's page, read element by element; anything but its known elements is refused."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)  # script and style text is kept exactly as written
        self.open: list[str] = []
        self.styles: list[str] = []
        self.scripts: list[tuple[str, str]] = []  # (the element it stands in: head or html, its text)
        self.divs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        where = self.open[-1] if self.open else ""
        named = {name for name, _ in attrs}
        if tag == "meta" and where == "head":
            return  # folium's content type and viewport: the page has its own
        if tag == "style" and where == "head" and not attrs:
            self.styles.append("")
        elif tag == "script" and where in ("head", "html") and not attrs:
            self.scripts.append((where, ""))
        elif tag == "div" and where == "body" and named <= {"class", "id"}:
            self.divs.append(dict(attrs))
        elif not (tag in ("html", "head", "body") and not attrs):
            raise ValueError(f"folium rendered an unexpected <{tag} {sorted(named)}> in <{where}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """``<meta … />``: nothing is left open; any other element written so is opened and closed."""
        self.handle_starttag(tag, attrs)
        if tag != "meta":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ValueError(f"folium rendered an unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        inside = self.open[-1] if self.open else ""
        if inside == "style":
            self.styles[-1] += data
        elif inside == "script":
            where, before = self.scripts[-1]
            self.scripts[-1] = (where, before + data)
        elif data.strip():
            raise ValueError(f"folium rendered text outside a script or style: {data[:40]!r}")

    def unknown_decl(self, data: str) -> None:
        """Nothing but elements and text is expected (a DOCTYPE goes to handle_decl)."""
        raise ValueError(f"folium rendered an unexpected declaration {data[:40]!r}")


def embed(fmap: folium.Map) -> EmbeddedMap:
    """Render a folium map and keep its inline styles and scripts, refusing anything else it rendered."""
    rendered = fmap.get_root().render().replace("\r\n", "\n").replace("\r", "\n")
    parts = _Parts()
    parts.feed(rendered)
    parts.close()
    if parts.open:
        raise ValueError(f"folium left <{parts.open[-1]}> open")
    if [d.get("id") for d in parts.divs] != [fmap.get_name()]:
        raise ValueError("folium rendered other elements than the map's <div>")
    tail = [code for where, code in parts.scripts if where == "html"]
    if len(tail) != 1:
        raise ValueError("folium's map script is missing or not one")
    for code in (*parts.styles, *(code for _, code in parts.scripts)):
        # Either would make a browser read the element's end elsewhere than this parser did.
        if "<!--" in code or "<script" in code.lower():
            raise ValueError("folium rendered markup inside a script or style")
    return EmbeddedMap(
        id=fmap.get_name(),
        head_styles=tuple(parts.styles),
        head_scripts=tuple(code for where, code in parts.scripts if where == "head"),
        script=tail[0],
    )
