"""The Content-Security-Policy of every response, chosen by its media type (set by main.RequestContext).

Pages (the map app, reports, OGC HTML, the API docs) load scripts, styles, fonts and data from this server
only: no inline script, no inline style, no plugin, no framing, no <base>. MapLibre GL needs ``blob:`` for
its workers and images. Everything else (JSON, tiles, files) gets a policy that allows nothing, in case a
browser is made to render it as a document. Scripts get the page policy too: for a worker script it is the
worker's own policy, and the map's tile workers must still fetch from this server.
"""

from __future__ import annotations

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
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
)
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'"
_PAGE_TYPES = (b"text/html", b"application/xhtml+xml", b"text/javascript", b"application/javascript")


def policy_for(content_type: bytes) -> bytes:
    """The policy for a response of this Content-Type header value."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return (PAGE_POLICY if media in _PAGE_TYPES else NOTHING_POLICY).encode()
