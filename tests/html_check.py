"""Reading served HTML with a real parser (html.parser): scripts, event handlers, inline styles, texts."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

# Each payload tries another way out of its context: an element, an attribute, the <title>.
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</title><script>alert(2)</script>",
]


@dataclass
class Element:
    """One start tag with its attributes and the text directly inside it (scripts, title, cells)."""

    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Parsed(HTMLParser):
    """A page as a flat list of elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in ("meta", "link", "img", "br", "input", "hr"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    def all(self, tag: str) -> list[Element]:
        """Every element of this tag."""
        return [e for e in self.elements if e.tag == tag]


def parse(page: str) -> Parsed:
    """Parse a whole page."""
    parsed = Parsed()
    parsed.feed(page)
    parsed.close()
    return parsed


def sha256_source(text: str) -> str:
    """A Content-Security-Policy hash source, computed here independently of the app."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy_sources(policy: str | None, directive: str) -> list[str]:
    """The sources of one directive of a Content-Security-Policy ([] without a policy or the directive)."""
    for part in (policy or "").split(";"):
        name, *sources = part.split() or [""]
        if name == directive:
            return sources
    return []


def assert_inert(page: str, policy: str | None = None) -> Parsed:
    """No script runs but the served files and the inline code its policy lists by hash; no event handler.

    Every inline <script> and <style> must be listed in the page's policy by its SHA-256, and the policy
    lists nothing else: an injected element would be a block no hash allows (and, on a page without a
    policy of hashes, any inline element fails). These are what the pages' Content-Security-Policy relies
    on, and what a payload would break.
    """
    parsed = parse(page)
    inline_scripts = [s.text for s in parsed.all("script") if "src" not in s.attrs]
    assert [s for s in parsed.all("script") if "src" in s.attrs and s.text.strip()] == []
    hashed = [h for h in policy_sources(policy, "script-src") if h.startswith("'sha256-")]
    assert sorted(sha256_source(t) for t in inline_scripts) == sorted(hashed), "inline script not hashed"
    styles = [h for h in policy_sources(policy, "style-src") if h.startswith("'sha256-")]
    assert sorted(sha256_source(s.text) for s in parsed.all("style")) == sorted(styles), "inline <style>"
    assert event_handlers(parsed) == []
    assert [e for e in parsed.elements if "style" in e.attrs] == [], "style attribute"
    assert [e for e in parsed.all("img") if e.attrs.get("src") == "x"] == []
    return parsed


def event_handlers(parsed: Parsed) -> list[tuple[str, str]]:
    """Every (tag, attribute) of an on… event-handler attribute."""
    return [(e.tag, a) for e in parsed.elements for a in e.attrs if a.lower().startswith("on")]


def folium_texts(parsed: Parsed) -> tuple[list[dict[str, Any]], list[str]]:
    """What a page's folium map shows as text: every feature's properties and every layer-control name.

    Read from folium's script (its GeoJSON data and layer-control names, written as JSON). Leaflet shows
    tooltips and layer names as HTML, so each must hold no "<" (no element can start) and is returned
    unescaped as HTML: the text a reader sees.
    """
    pattern = r"var map_[0-9a-f]+ = L\.map\("
    (script,) = [s.text for s in parsed.all("script") if re.search(pattern, s.text)]
    data = [json.loads(m.group(1)) for m in re.finditer(r"_add\((\{.*\})\);", script)]
    properties = [f["properties"] for d in data for f in d["features"]]
    overlay = r'^\s*("(?:[^"\\]|\\.)*") : (?:feature_group|geo_json)_[0-9a-f]+,$'
    names = [json.loads(m) for m in re.findall(overlay, script, re.M)]
    shown = [v for p in properties for v in p.values() if isinstance(v, str)] + names
    assert [v for v in shown if "<" in v] == [], "markup in a tooltip or layer name"
    return [{k: _text(v) for k, v in p.items()} for p in properties], [html.unescape(n) for n in names]


def _text(value: Any) -> Any:
    return html.unescape(value) if isinstance(value, str) else value
