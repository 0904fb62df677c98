"""Printable HTML pages (pre-evaluation report, demolition summary): Jinja2 templates with autoescaping.

Every value reaches the page through an autoescaped template; the map's data travels as a JSON data block
(``|tojson`` escapes ``<``, ``>`` and ``&``) read by a script served from the app (``print_map.js``), so the
pages carry no inline script and keep to the app's Content-Security-Policy. A downloaded page, opened
offline, carries Leaflet and that script inside itself instead.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

TEMPLATES_DIR = Path(__file__).parent / "templates"
# print_map.js and print.css, served by the app under ASSETS_PATH.
ASSETS_DIR = Path(__file__).parent / "print_assets"
ASSETS_PATH = "/assets/print"
LEAFLET_PATH = "/vendor/leaflet"


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


def _hash(text: str) -> str:
    """A CSP hash source for an inline element's exact content."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def offline_policy(scripts: list[str], styles: list[str]) -> str:
    """The policy a downloaded page carries in a <meta> element: its own inline scripts and styles only.

    Opened from disk it has no HTTP header; this keeps it as strict (frame-ancestors cannot be set by meta).
    """
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_hash(s) for s in scripts),
            "style-src " + " ".join(_hash(s) for s in styles),
            "img-src data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def page_assets(inline: tuple[str, str] | None) -> dict[str, Any]:
    """Template context for the assets: their URLs, or (with Leaflet's JS and CSS) their content inline."""
    if inline is None:
        return {"inline": None, "leaflet": LEAFLET_PATH, "assets": ASSETS_PATH}
    js, css = inline
    own_js = (ASSETS_DIR / "print_map.js").read_text("utf-8")
    own_css = (ASSETS_DIR / "print.css").read_text("utf-8")
    return {
        "inline": {
            "leaflet_js": _embeddable(js, "script"),
            "leaflet_css": _embeddable(css, "style"),
            "print_map_js": _embeddable(own_js, "script"),
            "print_css": _embeddable(own_css, "style"),
            "policy": offline_policy([js, own_js], [css, own_css]),
        },
        "leaflet": LEAFLET_PATH,
        "assets": ASSETS_PATH,
    }
