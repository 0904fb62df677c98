"""The Content-Security-Policy of every response, chosen by its media type (set by main.RequestContext).

Pages (the map app, reports, OGC HTML, the API docs) load scripts, styles, fonts and data from this server
only: no inline script, no inline style, no plugin, no framing, no <base>. A printable page with a folium
map sets its own header (``page_policy``): the same policy, which also allows the map's inline scripts and
styles by SHA-256, and so those exact texts and nothing else inline. MapLibre GL needs ``blob:`` for its
workers and images. Everything else (JSON, tiles, files) gets a policy that allows nothing, in case a
browser is made to render it as a document. Scripts get the page policy too: for a worker script it is the
worker's own policy, and the map's tile workers must still fetch from this server.
"""

from __future__ import annotations

from collections.abc import Sequence

_PAGE_REST = [
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "child-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]


def page_policy(script_hashes: Sequence[str] = (), style_hashes: Sequence[str] = ()) -> str:
    """The page policy; a page with inline code of its own lists it as hash sources ('sha256-…')."""
    for source in (*script_hashes, *style_hashes):
        if not (source.startswith("'sha256-") and source.endswith("'") and " " not in source):
            raise ValueError(f"not a hash source: {source!r}")
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *script_hashes]),
            " ".join(["style-src 'self'", *style_hashes]),
            *_PAGE_REST,
        ]
    )


PAGE_POLICY = page_policy()
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'"
_PAGE_TYPES = (b"text/html", b"application/xhtml+xml", b"text/javascript", b"application/javascript")


def policy_for(content_type: bytes) -> bytes:
    """The policy for a response of this Content-Type header value."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return (PAGE_POLICY if media in _PAGE_TYPES else NOTHING_POLICY).encode()
