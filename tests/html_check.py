"""Reading served HTML with a real parser (html.parser): scripts, event handlers, inline styles, texts."""

from __future__ import annotations

import json
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


def assert_inert(page: str) -> Parsed:
    """No script runs but the served files, no element has an event handler, no inline style; JSON is data.

    These are what the pages' Content-Security-Policy relies on, and what a payload would break.
    """
    parsed = parse(page)
    for script in parsed.all("script"):
        if script.attrs.get("type") == "application/json":
            json.loads(script.text)  # the data block stays one JSON document: nothing closed it early
            continue
        assert script.attrs.get("src") and script.text.strip() == "", f"inline script: {script}"
    assert event_handlers(parsed) == []
    assert parsed.all("style") == [], "inline <style>"
    assert [e for e in parsed.elements if "style" in e.attrs] == [], "style attribute"
    assert [e for e in parsed.all("img") if e.attrs.get("src") == "x"] == []
    return parsed


def event_handlers(parsed: Parsed) -> list[tuple[str, str]]:
    """Every (tag, attribute) of an on… event-handler attribute."""
    return [(e.tag, a) for e in parsed.elements for a in e.attrs if a.lower().startswith("on")]


def map_data(parsed: Parsed) -> Any:
    """The printable pages' map data block."""
    (block,) = [s for s in parsed.all("script") if s.attrs.get("id") == "print-map-data"]
    return json.loads(block.text)
