"""The hot path of map tiles: well-formed vector tile requests are answered before FastAPI's routing.

A map screen asks for dozens of tiles at once, and at high zooms a tile costs the database well under a
millisecond, so the framework's per-request work (walking the route table, solving dependencies,
validating path parameters) was a third of a tile's time. This ASGI middleware recognises the two tile
URLs (``/tiles/{codes}/{z}/{x}/{y}.mvt`` and the OGC API – Tiles path of a collection) and calls the same
function the FastAPI routes call (:func:`app.tiles.vector_routes.serve_tile`): the same authentication,
authorisation, caching, ETags and errors. Anything it does not recognise exactly — a zoom out of range, a
non-numeric index, another method — goes on to the FastAPI routes, which stay the documented interface
(OpenAPI) and answer such requests with their usual validation errors.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.deps import Deferred, oauth2_scheme
from app.db import gate_of
from app.errors import handled_response
from app.tiles.vector_routes import MAX_ZOOM, READ_LAYERS, serve_tile

_INDEX = r"(?P<{}>0|[1-9][0-9]{{0,9}})"
TILE_PATHS = (
    re.compile(r"^/tiles/(?P<codes>[^/]+)/{}/{}/{}\.mvt$".format(*map(_INDEX.format, "zxy"))),
    re.compile(
        r"^/ogc/collections/(?P<codes>[^/]+)/tiles/WebMercatorQuad/{}/{}/{}$".format(
            *map(_INDEX.format, "zyx")
        )
    ),
)


def match_tile(path: str) -> tuple[str, int, int, int] | None:
    """(codes, z, x, y) when ``path`` is a well-formed tile URL this path serves, else None."""
    for pattern in TILE_PATHS:
        m = pattern.match(path)
        if m is not None:
            z = int(m["z"])
            return (m["codes"], z, int(m["x"]), int(m["y"])) if z <= MAX_ZOOM else None
    return None


class TileFastPath:
    """ASGI middleware: serve well-formed tile requests directly, pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a tile, or hand the request to the application."""
        tile = match_tile(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if tile is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        access = Deferred(READ_LAYERS, await oauth2_scheme(request))
        try:
            async with gate_of(request).admitted():
                response = await run_in_threadpool(serve_tile, request, access, *tile)
        except Exception as exc:  # rendered by the application's own handlers, exactly as on its routes
            response = await handled_response(request, exc)
        await response(scope, receive, send)
