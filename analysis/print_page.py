"""Printable HTML pages (pre-evaluation report, demolition summary): Jinja2 templates with autoescaping.

Every value reaches the page through an autoescaped template. The map is a folium map (see folium_embed):
its inline styles and scripts are placed as folium rendered them, and the page's Content-Security-Policy
allows exactly those by SHA-256 (``PrintedPage.script_hashes``/``style_hashes``), beside the app's own
served files. A downloaded page, opened offline, carries Leaflet and the app's print assets inside itself
too, with a ``<meta>`` policy allowing exactly its inline code.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from analysis.folium_embed import embed

TEMPLATES_DIR = Path(__file__).parent / "templates"
# print.js and print.css, served by the app under ASSETS_PATH.
ASSETS_DIR = Path(__file__).parent / "print_assets"
ASSETS_PATH = "/assets/print"
LEAFLET_PATH = "/vendor/leaflet"
# Noto Sans SC from the app's own install (see app/web.py): printed Chinese looks the same on every machine.
FONT_PATH = "/vendor/fonts/noto-sans-sc"


def environment(*template_dirs: Path) -> Environment:
    """A Jinja2 environment with autoescaping on; ``template_dirs`` first, then the shared print templates."""
    return Environment(
        loader=FileSystemLoader([*template_dirs, TEMPLATES_DIR]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _embeddable(text: str, tag: str) -> Markup:
    """File content (Leaflet, our own assets — never user data) to place inside a <script> or <style>."""
    if f"</{tag}" in text.lower():
        raise ValueError(f"an inline asset must not close its <{tag}> element")
    return Markup(text)  # our own files, checked above


def leaflet_inline(leaflet_dir: Path) -> tuple[str, str]:
    """Leaflet's JS and CSS for a page that opens offline, the CSS's images as data: URLs."""
    css = (leaflet_dir / "leaflet.css").read_text("utf-8")
    for image in sorted((leaflet_dir / "images").glob("*.png")):
        data = base64.b64encode(image.read_bytes()).decode()
        css = css.replace(f"url(images/{image.name})", f"url(data:image/png;base64,{data})")
    return (leaflet_dir / "leaflet.js").read_text("utf-8"), css


def hash_source(text: str) -> str:
    """A Content-Security-Policy hash source for an inline element's exact content."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def offline_policy(scripts: list[str], styles: list[str]) -> str:
    """The policy a downloaded page carries in a <meta> element: its own inline scripts and styles only.

    Opened from disk it has no HTTP header; this keeps it as strict (frame-ancestors cannot be set by meta).
    Fonts come from ``data:`` URLs only: a downloaded report carries its own (see analysis.report_font).
    """
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(hash_source(s) for s in scripts),
            "style-src " + " ".join(hash_source(s) for s in styles),
            "img-src data:",
            "font-src data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


@dataclass(frozen=True)
class PrintedPage:
    """A rendered printable page and the exact text of every inline script and style in it."""

    html: str
    scripts: tuple[str, ...]
    styles: tuple[str, ...]

    @property
    def script_hashes(self) -> list[str]:
        """Hash sources of the page's inline scripts, for its Content-Security-Policy."""
        return [hash_source(s) for s in self.scripts]

    @property
    def style_hashes(self) -> list[str]:
        """Hash sources of the page's inline styles, for its Content-Security-Policy."""
        return [hash_source(s) for s in self.styles]


def render_page(
    env: Environment,
    template: str,
    context: dict[str, Any],
    fmap: folium.Map,
    inline: tuple[str, str] | None = None,
    font_css: str | None = None,
) -> PrintedPage:
    """Render a printable page around a folium map; with ``inline`` (Leaflet's JS and CSS) it opens offline.

    The page's template places folium's styles and head scripts in <head>, the map's <div>, and its script
    after Leaflet (see print_base.html); the page order of inline scripts and styles is the order kept here.
    ``font_css`` (``@font-face`` rules with the font inline) goes into the offline page's head.
    """
    drawn = embed(fmap)
    assets: dict[str, Any] = {
        "inline": None,
        "static": False,
        "leaflet": LEAFLET_PATH,
        "font": FONT_PATH,
        "assets": ASSETS_PATH,
        "map": drawn.context(),
    }
    if inline is None:
        page = env.get_template(template).render({**context, **assets, "inline": None})
        return PrintedPage(page, drawn.scripts, drawn.head_styles)
    js, css = inline
    own_js, own_css = (ASSETS_DIR / "print.js").read_text("utf-8"), _print_css(font_css)
    scripts = (*drawn.head_scripts, js, own_js, drawn.script)
    styles = (css, *drawn.head_styles, own_css)
    assets["inline"] = {
        "leaflet_js": _embeddable(js, "script"),
        "leaflet_css": _embeddable(css, "style"),
        "print_js": _embeddable(own_js, "script"),
        "print_css": _embeddable(own_css, "style"),
        "policy": offline_policy(list(scripts), list(styles)),
    }
    page = env.get_template(template).render({**context, **assets})
    return PrintedPage(page, scripts, styles)


def _print_css(font_css: str | None) -> str:
    """The print stylesheet, after the page's own font faces if it carries them."""
    css = (ASSETS_DIR / "print.css").read_text("utf-8")
    return css if font_css is None else f"{font_css}\n{css}"


def render_static(env: Environment, template: str, context: dict[str, Any], font_css: str) -> str:
    """A page without map script or any other script (for a PDF): the print stylesheet and fonts inline."""
    assets = {
        "static": True,
        "inline": {"print_css": _embeddable(_print_css(font_css), "style")},
        "map": None,
    }
    return env.get_template(template).render({**context, **assets})
